"""Signals reach the launcher even when a library started a thread that does not block them.

On a GPU machine the launcher probes NVML, which loads libcuda, which starts a thread of its
own that outlives the probe, with no signal blocked (seen on an H100: a thread named
`cuda00001800007`, SigBlk 0). The kernel may hand that thread a signal sent to the
launcher; before the fix, the default action ended the launcher there: SIGTERM from a
scheduler killed it at once (exit by signal 15, no verdict), and its workers died of the
parent-death SIGKILL without ever seeing SIGTERM.

No GPU here, so a preloaded library plays libcuda (foreign_thread.py). Checked: SIGTERM
and SIGINT reach every worker and the launcher reports them (exit 143 / 130); SIGUSR1 is
passed to the workers and the job goes on; a plain run ends. Job control (Ctrl-Z, fg, a
background reader) with the stand-in: test_launch_job_control.py.
"""
import os
import signal
import subprocess
import tempfile
import time

import foreign_thread
from lib import ACCELERATE, PYTHON, TempDir, check, clean_env, finish, skip

WORKER = r'''
import os, signal, sys, time
out, rank = sys.argv[1], os.environ["RANK"]
def note(name):
    with open(os.path.join(out, name + "." + rank), "w") as f:
        f.write(str(os.getpid()))
def on(signo, frame):
    note(signal.Signals(signo).name)
    if signo != signal.SIGUSR1:
        os._exit(128 + signo)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
    signal.signal(s, on)
note("ready")
if sys.argv[2] == "exit":
    sys.exit(0)
while not os.path.exists(os.path.join(out, "SIGUSR1." + rank)) or sys.argv[2] != "usr1":
    time.sleep(0.01)
sys.exit(0)
'''



def run(tmp, env, mode, send=None):
    out = tempfile.mkdtemp(dir=tmp, prefix=f"out-{mode}-")
    proc = subprocess.Popen([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", "0",
                             "worker.py", out, mode], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(os.path.exists(os.path.join(out, f"ready.{r}")) for r in (0, 1)):
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    threads = foreign_thread.unblocked_threads(proc.pid) if proc.poll() is None else 0
    if send is not None and proc.poll() is None:
        time.sleep(0.05)
        os.kill(proc.pid, send)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "timeout"
    seen = sorted(name for name in os.listdir(out) if not name.startswith("ready"))
    return rc, seen, proc.stderr.read(), threads


with TempDir() as tmp:
    lib = foreign_thread.build(tmp)
    if not lib:
        skip("needs a C compiler to build the stand-in for libcuda's thread")
    with open(os.path.join(tmp, "worker.py"), "w") as f:
        f.write(WORKER)
    env = clean_env(tmp, LD_PRELOAD=lib)

    for _ in range(3):  # which thread the kernel picks is its choice: more than one try
        rc, seen, err, threads = run(tmp, env, "wait", signal.SIGTERM)
        check(threads == 1, f"the launcher runs with the stand-in thread beside it, nothing blocked there "
                            f"({threads} such threads)")
        check(rc == 143, f"SIGTERM: the launcher reports it and exits 143 (exit {rc})")
        check(seen == ["SIGTERM.0", "SIGTERM.1"], f"SIGTERM: both workers saw it ({seen})")
        check("SIGTERM" in err, f"SIGTERM: the verdict names it ({err.strip().splitlines()[-1:]})")

    rc, seen, err, _ = run(tmp, env, "wait", signal.SIGINT)
    check(rc == 130 and seen == ["SIGINT.0", "SIGINT.1"], f"SIGINT: exit 130, both workers saw it ({rc}, {seen})")

    rc, seen, err, _ = run(tmp, env, "usr1", signal.SIGUSR1)
    check(rc == 0 and seen == ["SIGUSR1.0", "SIGUSR1.1"],
          f"SIGUSR1: passed to both workers, which then finish; exit 0 ({rc}, {seen}; {err.strip()[-300:]!r})")

    rc, seen, err, _ = run(tmp, env, "exit")
    check(rc == 0, f"a run whose workers just exit ends, exit 0 ({rc})")

finish()
