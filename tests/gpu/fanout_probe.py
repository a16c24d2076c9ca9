"""Diagnoses supervision_bench's fan-out run (SIGTERM to the launcher, every worker must see it):
the same run, with the launcher's stderr kept and what each rank did noted.
Usage: python3 tests/gpu/fanout_probe.py LAUNCHER PYTHON [RUNS]"""
import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import supervision_bench as sb  # noqa: E402

launcher, python = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 12
b = sb.Bench(argparse.Namespace(launcher=os.path.abspath(launcher), python=python, workers=4, torchrun=""))
bad = 0
for i in range(runs):
    out = b.out_dir()
    err_path = os.path.join(out, "launcher.err")
    with open(err_path, "w") as err, open(os.devnull, "wb") as null:
        proc = subprocess.Popen(b.command("accelerate", 4, ["fanout", out]), env=b.env, cwd=b.tmp, stdout=null,
                                stderr=err)
        ready = b.wait_ready(out, 4, proc)
        pids = [int(open(os.path.join(out, "ready.%d" % r)).read()) for r in range(4)
                if os.path.exists(os.path.join(out, "ready.%d" % r))]
        time.sleep(0.05)
        alive_before = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    seen = sorted(f for f in os.listdir(out) if f.startswith("sig."))
    if len(seen) != 4:
        bad += 1
        print(f"run {i}: ready={ready} launcher alive before SIGTERM={alive_before} exit={rc} saw={seen} "
              f"pids={pids}\n  launcher stderr: {open(err_path).read()[-1500:]!r}", flush=True)
print(f"fanout probe: {bad} of {runs} runs had a rank that never saw SIGTERM", flush=True)
