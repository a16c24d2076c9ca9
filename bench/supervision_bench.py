#!/usr/bin/python3
"""Supervision benchmark: teardown latency, signal fan-out latency and output throughput
of `accelerate launch` against Debian's torchrun, in the same run.

Not a test: it measures (ctest does not run it). Variants are interleaved round by
round in a shuffled order, so load changes on the machine hit all of them alike.

- teardown: N workers start; once all are ready, rank 0 notes time.time() and
  exits 3 (os._exit, no interpreter teardown). Measured: from that instant until the
  launcher process has exited (the bench's waitpid returns). The other workers keep
  Python's default SIGTERM disposition (they die at once when signalled).
- fan-out: N workers, each with a SIGTERM handler that notes time.time() and exits.
  Once all are ready the bench sends SIGTERM to the launcher. Measured: from just
  before kill() until the last worker's handler ran.
- throughput: N workers each write M MiB of ~100-byte lines (a prebuilt 1 MiB block,
  written repeatedly) to stdout; the launcher's stdout is a file. Measured: wall time
  of the whole command. "bare" = no launcher: the workers started by a shell, each
  writing the console file itself (direct writing, the floor); "default" = our launcher
  without flags, which joins several workers' lines on a console that is a file
  (docs/SUPERVISION.md, Output: one copy through the launcher, lines whole);
  "tee" = `--tee 3 --log_dir D` (a log file per rank that the launcher follows,
  `[default0]:` prefixes on the console), "redirects" = `--redirects 3 --log_dir D`
  (the same files, no console copy: what tee costs beyond them). This is saturation:
  nothing but output.
  Peer for the second copy: "coreutils tee(1)" = no launcher, each worker's stdout piped
  through `tee <log_dir>/<rank>.log` onto the same console file (`sh -c 'RANK=0 python3
  worker | tee 0.log & ... wait'`). The same bytes reach the same two places, without
  prefixes and without keeping lines whole: what producing a log file and a console copy
  costs without our launcher. "accelerate --tee 3" against it is the cost of the prefixes
  and of our copy; against "bare" it is also the cost of writing every byte twice.
- paced: a training-like load. N workers compute and print one ~90-byte line per
  step (--paced-lines steps of --paced-work loop iterations; by default some 8,000
  lines/s per rank on a 2-CPU machine, each line its own write under PYTHONUNBUFFERED=1).
  Measured: wall time, and the launcher's own CPU time: the CPU of the whole command
  (wait4) minus what each worker reports for itself as it ends.

Run from the repository root after building:

    /usr/bin/python3 bench/supervision_bench.py --launcher build/accelerate
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

WORKER = r'''
import os, signal, sys, time
mode, out = sys.argv[1], sys.argv[2]
rank = int(os.environ.get("RANK", "0"))
world = int(os.environ.get("WORLD_SIZE", "1"))

def note(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)

if mode == "fanout":
    def handler(signo, frame):
        note("sig.%d" % rank, "%.6f" % time.time())
        os._exit(128 + signo)
    signal.signal(signal.SIGTERM, handler)
if mode == "write":
    mib = int(sys.argv[3])
    lines = []
    size = n = 0
    while size < (1 << 20):
        line = "rank %d line %08d %s\n" % (rank, n, "x" * (60 + n % 60))
        lines.append(line)
        size += len(line)
        n += 1
    block = "".join(lines).encode()
    w = sys.stdout.buffer
    for _ in range(mib):
        w.write(block)
    w.flush()
    sys.exit(0)
if mode == "paced":
    import resource
    lines, work = int(sys.argv[3]), int(sys.argv[4])
    w = sys.stdout
    acc = 0
    for i in range(lines):
        for j in range(work):
            acc += j * j
        w.write("rank %d step %08d loss %.6f %s\n" % (rank, i, acc % 1000 / 1000.0, "x" * 40))
    w.flush()
    r = resource.getrusage(resource.RUSAGE_SELF)
    note("cpu.%d" % rank, "%.6f" % (r.ru_utime + r.ru_stime))
    sys.exit(0)
note("ready.%d" % rank, str(os.getpid()))
if mode == "teardown" and rank == 0:
    while not all(os.path.exists(os.path.join(out, "ready.%d" % r)) for r in range(world)):
        time.sleep(0.005)
    time.sleep(0.1)
    note("failed_at", "%.6f" % time.time())
    os._exit(3)
while True:
    time.sleep(1)
'''


from launch_bench import percentile  # noqa: E402 (the same folder; one definition of the statistic)


def wait_exit(proc, limit=120):
    """Block in waitpid until proc exits; returns time.time() at that moment.

    Not Popen.wait(timeout=...): with a timeout it polls, sleeping up to 50 ms between
    looks, which would add its own latency to what is measured.
    """
    watchdog = threading.Timer(limit, proc.kill)
    watchdog.start()
    try:
        _, status = os.waitpid(proc.pid, 0)
        exited = time.time()
    finally:
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return exited


def summary(values):
    return {"n": len(values), "median": statistics.median(values), "p10": percentile(values, 10),
            "p90": percentile(values, 90), "min": min(values), "max": max(values)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="acc_supbench_")
        self.worker = os.path.join(self.tmp, "worker.py")
        with open(self.worker, "w") as f:
            f.write(WORKER)
        self.env = dict(os.environ, PYTHON_EXEC=args.python, TMPDIR=self.tmp, HOME=self.tmp,
                        HF_HOME=os.path.join(self.tmp, "hf"))
        self.env.pop("OMP_NUM_THREADS", None)
        self.cpu = {}
        self.paced_cpu = {}

    def out_dir(self):
        d = tempfile.mkdtemp(dir=self.tmp, prefix="out_")
        return d

    def command(self, launcher, n, script_args, extra=()):
        if launcher == "accelerate":
            return [self.args.launcher, "launch", "--cpu", "--num_processes", str(n), "--main_process_port", "0",
                    *extra, self.worker, *script_args]
        if launcher == "coreutils-tee":  # the peer: no launcher, a tee(1) per worker
            log_dir = extra[0]
            os.makedirs(log_dir, exist_ok=True)
            worker = " ".join(shlex.quote(a) for a in (self.args.python, self.worker, *script_args))
            pipes = ["RANK=%d WORLD_SIZE=%d %s | tee %s &" % (r, n, worker, shlex.quote(os.path.join(log_dir, "%d.log" % r)))
                     for r in range(n)]
            return ["/bin/sh", "-c", " ".join(pipes) + " wait"]
        if launcher == "bare":  # the floor: no launcher, each worker writes the console itself
            worker = " ".join(shlex.quote(a) for a in (self.args.python, self.worker, *script_args))
            return ["/bin/sh", "-c", " ".join("RANK=%d WORLD_SIZE=%d %s &" % (r, n, worker) for r in range(n)) + " wait"]
        if launcher == "torchrun":
            return [self.args.python, self.args.torchrun, "--nproc_per_node", str(n), "--master_port",
                    str(random.randint(20000, 40000)), *extra, self.worker, *script_args]
        raise ValueError(launcher)

    def wait_ready(self, out, n, proc, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(os.path.exists(os.path.join(out, "ready.%d" % r)) for r in range(n)):
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.002)
        return False

    def teardown(self, launcher, extra=()):
        n = self.args.workers
        out = self.out_dir()
        with open(os.devnull, "wb") as null:
            proc = subprocess.Popen(self.command(launcher, n, ["teardown", out], extra), env=self.env, cwd=self.tmp,
                                    stdout=null, stderr=null)
            exited = wait_exit(proc)
        failed_at = float(open(os.path.join(out, "failed_at")).read())
        if proc.returncode == 0:
            raise RuntimeError("%s: teardown run exited 0" % launcher)
        return exited - failed_at

    def fanout(self, launcher, extra=()):
        n = self.args.workers
        out = self.out_dir()
        with open(os.devnull, "wb") as null:
            proc = subprocess.Popen(self.command(launcher, n, ["fanout", out], extra), env=self.env, cwd=self.tmp,
                                    stdout=null, stderr=null)
            if not self.wait_ready(out, n, proc):
                proc.kill()
                raise RuntimeError("%s: workers did not start" % launcher)
            time.sleep(0.05)
            sent = time.time()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        seen = []
        for r in range(n):
            path = os.path.join(out, "sig.%d" % r)
            if not os.path.exists(path):
                raise RuntimeError("%s: rank %d never saw SIGTERM" % (launcher, r))
            seen.append(float(open(path).read()))
        return max(seen) - sent

    def throughput(self, launcher, extra=()):
        n = self.args.workers
        out = self.out_dir()
        console = os.path.join(out, "console.txt")
        with open(console, "wb") as f, open(os.devnull, "wb") as null:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            proc = subprocess.run(self.command(launcher, n, ["write", out, str(self.args.mib)], extra), env=self.env,
                                  cwd=self.tmp, stdout=f, stderr=null, timeout=600)
            took = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds of the launcher and its workers: what the output path costs, whatever
        # else the machine is running.
        mode = ("tee(1)" if launcher == "coreutils-tee" else "bare" if launcher == "bare" else "tee" if "--tee" in extra
                else "redirects" if "--redirects" in extra else "default")
        if launcher == "coreutils-tee":
            shutil.rmtree(extra[0], ignore_errors=True)
        self.cpu.setdefault((launcher, mode), []).append(
            (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
        if proc.returncode != 0:
            raise RuntimeError("%s %s: exit %d" % (launcher, extra, proc.returncode))
        expected = n * self.args.mib << 20
        if mode == "redirects":  # the console stays empty: count what the log files got
            log_dir = extra[list(extra).index("--log_dir") + 1]
            size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(log_dir) for f in fs
                       if f == "stdout.log")
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            size = os.path.getsize(console)
        if size < expected:
            raise RuntimeError("%s %s: console has %d bytes, expected at least %d" % (launcher, extra, size, expected))
        shutil.rmtree(out, ignore_errors=True)
        return took


    def paced(self, launcher, extra=()):
        """Wall time; the launcher's own CPU goes to self.paced_cpu."""
        n = self.args.workers
        out = self.out_dir()
        with open(os.path.join(out, "console.txt"), "wb") as f:
            start = time.perf_counter()
            proc = subprocess.Popen(self.command(launcher, n, ["paced", out, str(self.args.paced_lines),
                                                               str(self.args.paced_work)], extra),
                                    env=self.env, cwd=self.tmp, stdout=f, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            took = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("%s %s: paced run failed" % (launcher, extra))
        workers = sum(float(open(os.path.join(out, "cpu.%d" % r)).read()) for r in range(n))
        key = (launcher, "tee" if "--tee" in extra else "default")
        total = usage.ru_utime + usage.ru_stime
        self.paced_cpu.setdefault(key, []).append((total - workers, total))
        shutil.rmtree(out, ignore_errors=True)
        return took


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--launcher", default=str(REPO / "build" / "accelerate"))
    p.add_argument("--torchrun", default=str(REPO.parent / "shared" / "tools" / "torchrun"),
                   help="Debian's torchrun (empty: skip it)")
    p.add_argument("--python", default="/usr/bin/python3")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--reps", type=int, default=10, help="rounds of teardown and fan-out")
    p.add_argument("--torchrun-reps", type=int, default=5)
    p.add_argument("--throughput-reps", type=int, default=5)
    p.add_argument("--mib", type=int, default=64, help="MiB each worker writes in the throughput runs")
    p.add_argument("--paced-reps", type=int, default=5)
    p.add_argument("--paced-lines", type=int, default=10000, help="steps (lines) per worker in the paced runs")
    p.add_argument("--paced-work", type=int, default=500, help="loop iterations of compute per step")
    p.add_argument("--json", help="write the raw numbers here")
    args = p.parse_args()
    args.launcher = os.path.abspath(args.launcher)
    bench = Bench(args)
    use_torchrun = bool(args.torchrun) and os.path.exists(args.torchrun)

    variants = {
        "teardown/accelerate": lambda: bench.teardown("accelerate"),
        "fanout/accelerate": lambda: bench.fanout("accelerate"),
        "throughput/bare (no launcher)": lambda: bench.throughput("bare"),
        "throughput/accelerate default": lambda: bench.throughput("accelerate"),
        "throughput/accelerate --tee 3": lambda: bench.throughput(
            "accelerate", ("--tee", "3", "--log_dir", os.path.join(bench.tmp, "logs"))),
        # The same log files without the console copy: what --tee costs beyond writing them.
        "throughput/accelerate --redirects 3": lambda: bench.throughput(
            "accelerate", ("--redirects", "3", "--log_dir", os.path.join(bench.tmp, "rlogs"))),
        # The peer for the second copy: the same two outputs without a launcher or prefixes.
        "throughput/coreutils tee(1) per worker": lambda: bench.throughput(
            "coreutils-tee", (os.path.join(bench.tmp, "clogs"),)),
        "paced/bare (no launcher)": lambda: bench.paced("bare"),
        "paced/accelerate default": lambda: bench.paced("accelerate"),
        "paced/accelerate --tee 3": lambda: bench.paced(
            "accelerate", ("--tee", "3", "--log_dir", os.path.join(bench.tmp, "plogs"))),
    }
    torchrun_variants = {
        "teardown/torchrun --monitor_interval 0.1": lambda: bench.teardown("torchrun", ("--monitor_interval", "0.1")),
        "teardown/torchrun (default 5 s interval)": lambda: bench.teardown("torchrun"),
        "fanout/torchrun": lambda: bench.fanout("torchrun", ("--monitor_interval", "0.1")),
        "throughput/torchrun direct": lambda: bench.throughput("torchrun", ("--monitor_interval", "0.1")),
        "throughput/torchrun --tee 3": lambda: bench.throughput(
            "torchrun", ("--monitor_interval", "0.1", "--tee", "3", "--log_dir", os.path.join(bench.tmp, "tlogs"))),
        "paced/torchrun direct": lambda: bench.paced("torchrun", ("--monitor_interval", "0.1")),
        "paced/torchrun --tee 3": lambda: bench.paced(
            "torchrun", ("--monitor_interval", "0.1", "--tee", "3", "--log_dir", os.path.join(bench.tmp, "tplogs"))),
    }

    def reps_of(name):
        return {"throughput": args.throughput_reps, "paced": args.paced_reps}.get(name.split("/")[0], args.reps)

    reps = {name: reps_of(name) for name in variants}
    if use_torchrun:
        for name in torchrun_variants:
            reps[name] = min(args.torchrun_reps, reps_of(name))
        variants.update(torchrun_variants)
    results = {name: [] for name in variants}
    rounds = max(reps.values())
    # Warm-up, uncounted.
    bench.throughput("accelerate")
    bench.teardown("accelerate")
    for r in range(rounds):
        order = [name for name in variants if len(results[name]) < reps[name]]
        random.shuffle(order)
        for name in order:
            results[name].append(variants[name]())
        print("round %d/%d done" % (r + 1, rounds), file=sys.stderr, flush=True)

    stats = {name: summary(v) for name, v in results.items() if v}
    print("machine: %s, %d CPUs, %s; python %s" % (platform.node(), os.cpu_count(), platform.platform(),
                                                    platform.python_version()))
    print("date: %s" % datetime.datetime.now().isoformat(timespec="seconds"))
    print("workers: %d; throughput: %d MiB per worker" % (args.workers, args.mib))
    print()
    print("%-45s %6s %10s %10s %10s %10s" % ("variant", "n", "median", "p10", "p90", "min"))
    for name, s in stats.items():
        unit, scale = ("s", 1.0) if name.startswith(("throughput", "paced")) else ("ms", 1000.0)
        print("%-45s %6d %9.3f%s %9.3f%s %9.3f%s %9.3f%s" % (name, s["n"], s["median"] * scale, unit[0],
                                                             s["p10"] * scale, unit[0], s["p90"] * scale, unit[0],
                                                             s["min"] * scale, unit[0]))
    print()

    def ratio(a, b):
        return stats[a]["median"] / stats[b]["median"]

    total_mib = args.workers * args.mib
    for name in stats:
        if name.startswith("throughput"):
            print("%-45s %8.0f MiB/s" % (name, total_mib / stats[name]["median"]))
    for key, values in bench.cpu.items():
        print("%-45s CPU (launcher + workers) median %.3f s over %d runs" % (
            "throughput/%s %s" % key, statistics.median(values), len(values)))
    cpu = {mode: statistics.median(v) for (launcher, mode), v in bench.cpu.items()
           if launcher in ("accelerate", "coreutils-tee", "bare")}
    if "bare" in cpu and "tee" in cpu:
        print("CPU cost of --tee 3 (accelerate, against bare): %+.1f %%" % ((cpu["tee"] / cpu["bare"] - 1) * 100))
    if "bare" in cpu and "default" in cpu:
        print("CPU cost of joining (accelerate default, against bare): %+.1f %%" % ((cpu["default"] / cpu["bare"] - 1) * 100))
    if "redirects" in cpu and "tee" in cpu:
        print("CPU of the console copy alone (accelerate --tee 3 - --redirects 3): %.3f s" %
              (cpu["tee"] - cpu["redirects"]))
    tee_cost = ratio("throughput/accelerate --tee 3", "throughput/bare (no launcher)") - 1
    print("prefixing cost at saturation (accelerate --tee 3 / bare - 1): %+.1f %%" % (tee_cost * 100))
    join_cost = ratio("throughput/accelerate default", "throughput/bare (no launcher)") - 1
    print("joining cost at saturation (accelerate default / bare - 1): %+.1f %%" % (join_cost * 100))
    peer_cost = ratio("throughput/accelerate --tee 3", "throughput/coreutils tee(1) per worker") - 1
    print("second copy without prefixes (coreutils tee(1) per worker / bare - 1): %+.1f %%" %
          ((ratio("throughput/coreutils tee(1) per worker", "throughput/bare (no launcher)") - 1) * 100))
    print("prefixes and our copy at saturation (accelerate --tee 3 / coreutils tee(1) per worker - 1): %+.1f %%" %
          (peer_cost * 100))
    if "tee(1)" in cpu and "tee" in cpu:
        print("CPU, accelerate --tee 3 / coreutils tee(1) per worker: %.2f" % (cpu["tee"] / cpu["tee(1)"]))
    paced_cost = ratio("paced/accelerate --tee 3", "paced/bare (no launcher)") - 1
    paced_join_cost = ratio("paced/accelerate default", "paced/bare (no launcher)") - 1
    lines_per_s = args.paced_lines / stats["paced/bare (no launcher)"]["median"]
    print("paced load: %.0f lines/s per rank (%d ranks)" % (lines_per_s, args.workers))
    for launcher, mode in sorted(bench.paced_cpu):
        values = bench.paced_cpu[(launcher, mode)]
        print("paced/%s %-6s CPU medians: launcher %.1f ms, launcher + workers %.3f s" % (
            launcher, mode, statistics.median(v[0] for v in values) * 1000, statistics.median(v[1] for v in values)))
    tee_cpu = [v[1] for v in bench.paced_cpu.get(("accelerate", "tee"), [])]
    bare_cpu = [v[1] for v in bench.paced_cpu.get(("bare", "default"), [])]
    if tee_cpu and bare_cpu:
        print("CPU cost of --tee 3 at the paced load (accelerate, launcher + workers, against bare): %+.1f %%" % (
            (statistics.median(tee_cpu) / statistics.median(bare_cpu) - 1) * 100))
    print("prefixing cost at the paced load (accelerate --tee 3 / bare - 1, wall): %+.1f %%" % (paced_cost * 100))
    print("joining cost at the paced load (accelerate default / bare - 1, wall): %+.1f %%" % (paced_join_cost * 100))
    if use_torchrun:
        print("teardown, torchrun (0.1 s interval) / accelerate: %.0fx" %
              ratio("teardown/torchrun --monitor_interval 0.1", "teardown/accelerate"))
        print("fan-out, torchrun / accelerate: %.1fx" % ratio("fanout/torchrun", "fanout/accelerate"))
        print("torchrun --tee 3 / direct - 1: %+.1f %% at saturation, %+.1f %% at the paced load" %
              ((ratio("throughput/torchrun --tee 3", "throughput/torchrun direct") - 1) * 100,
               (ratio("paced/torchrun --tee 3", "paced/torchrun direct") - 1) * 100))
    teardown_ms = stats["teardown/accelerate"]["median"] * 1000
    print("target teardown < 20 ms: %s (%.1f ms)" % ("PASS" if teardown_ms < 20 else "MISS", teardown_ms))
    print("target prefixing < 10 %% at the paced load: %s (%+.1f %%)" % ("PASS" if paced_cost < 0.10 else "MISS",
                                                                       paced_cost * 100))
    print("target prefixing < 10 %% at saturation, against direct writing (bare): %s (%+.1f %%)" % (
        "PASS" if tee_cost < 0.10 else "MISS", tee_cost * 100))
    print("target prefixing < 10 %% at saturation, against the same copies without prefixes: %s (%+.1f %%)" % (
        "PASS" if peer_cost < 0.10 else "MISS", peer_cost * 100))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "stats": stats, "args": vars(args)}, f, indent=1)
    shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
