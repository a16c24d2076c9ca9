#!/usr/bin/python3
"""Start-up time and memory of `accelerate launch` against bare Python and torchrun.

Not a test: it measures. Every variant runs in the same process, interleaved
round by round in a shuffled order, so load changes on the machine hit all of
them alike. Reported per variant: median and spread (p10..p90, min) of the wall
time from starting the command to its exit; per comparison: the ratio of the
medians and the median of the per-round ratios with its p10..p90.

Run from the repository root (see bench/README.md):

    PYTHON_EXEC=/usr/bin/python3 /usr/bin/python3 bench/launch_bench.py --launcher build/accelerate
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NOOP = HERE / "noop.py"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p10": percentile(values, 10),
        "p90": percentile(values, 90),
        "min": min(values),
        "max": max(values),
    }


# --- what is timed ----------------------------------------------------------------------------


# Each returns (wall seconds, CPU seconds). The CPU time comes from wait4's
# rusage: the process's own user+system time plus that of the children it
# waited for (the workers), so it compares the same work with and without the
# launcher and is much less sensitive to other load on the machine than wall time.


def _wait(proc: subprocess.Popen) -> tuple[int, float]:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def run_one(cmd: list[str], env: dict) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    code, cpu = _wait(proc)
    elapsed = time.perf_counter() - start
    if code != 0:
        sys.exit(f"launch_bench: {' '.join(cmd)} exited with {code}; run it by hand to see why")
    return elapsed, cpu


def run_parallel(cmd: list[str], n: int, env: dict) -> tuple[float, float]:
    """n copies of cmd started back to back, timed until the last one exits."""
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(n)]
    results = [_wait(p) for p in procs]
    elapsed = time.perf_counter() - start
    if any(code for code, _ in results):
        sys.exit(f"launch_bench: {' '.join(cmd)} exited with {[code for code, _ in results]}")
    return elapsed, sum(cpu for _, cpu in results)


# --- peak memory ------------------------------------------------------------------------------


def read_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    out[key] = int(value.split()[0])  # kB
    except OSError:
        pass
    return out


def peak_rss_kib(cmd: list[str], env: dict) -> int:
    """VmHWM of the process started by cmd (itself only, not its children).

    VmHWM only grows, so the last value read before the process exits is its
    peak; the worker sleeps so there is time to read it. Children do not count:
    they are separate processes with their own VmHWM.
    """
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, read_status(proc.pid).get("VmHWM", 0))
        time.sleep(0.005)
    if proc.returncode != 0:
        sys.exit(f"launch_bench: {' '.join(cmd)} exited with {proc.returncode}")
    if peak == 0:
        sys.exit(f"launch_bench: could not read VmHWM of {' '.join(cmd)}")
    return peak


# --- the run ----------------------------------------------------------------------------------


def machine_facts(args) -> dict:
    def cmd_out(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cpus_online": os.cpu_count(),
        "kernel": platform.release(),
        "python": cmd_out([args.python, "-c", "import sys; print(sys.version.split()[0])"]),
        "torch": cmd_out([args.python, "-c", "import torch; print(torch.__version__)"]) if args.torchrun else "",
        "launcher": args.launcher,
        "launcher_commit": cmd_out(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "loadavg_before": Path("/proc/loadavg").read_text().split()[:3],
    }


MIN_LAUNCHER = "min_launcher python3 noop.py (vfork+exec+wait, C)"


def build_min_launcher() -> str:
    """bench/min_launcher.c built with the system C compiler; '' when there is none."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        print("launch_bench: no C compiler, skipping the min_launcher floor", file=sys.stderr)
        return ""
    out = Path(tempfile.mkdtemp(prefix="acc_bench_")) / "min_launcher"
    subprocess.run([cc, "-O2", "-o", str(out), str(HERE / "min_launcher.c")], check=True)
    return str(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--launcher", default=str(REPO / "build" / "accelerate"), help="the accelerate binary")
    ap.add_argument("--python", default=os.environ.get("PYTHON_EXEC", "/usr/bin/python3"),
                    help="interpreter for workers and the bare runs (default $PYTHON_EXEC or /usr/bin/python3)")
    ap.add_argument("--torchrun", default=str(REPO.parent / "shared" / "tools" / "torchrun"),
                    help="torchrun to compare with; '' to skip")
    ap.add_argument("--reps", type=int, default=60, help="rounds for the launcher and bare variants")
    ap.add_argument("--torchrun-reps", type=int, default=10, help="rounds that include torchrun (slow)")
    ap.add_argument("--rss-reps", type=int, default=3, help="peak-memory runs per command (max is kept)")
    ap.add_argument("--also", action="append", default=[], metavar="LABEL=PATH",
                    help="another accelerate binary to measure in the same run (e.g. a different link mode)")
    ap.add_argument("--upstream", default="", metavar="PATH",
                    help="upstream's Python `accelerate` executable, where it is installed, measured in the "
                         "torchrun rounds (it takes seconds per run)")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    launcher = str(Path(args.launcher).resolve())
    if not os.access(launcher, os.X_OK):
        sys.exit(f"launch_bench: {args.launcher} is not an executable; build it first (see bench/README.md)")
    if args.torchrun and not os.access(args.torchrun, os.X_OK):
        sys.exit(f"launch_bench: torchrun {args.torchrun} not found; pass --torchrun '' to skip it")
    if args.upstream and not os.access(args.upstream, os.X_OK):
        sys.exit(f"launch_bench: --upstream {args.upstream} is not an executable")

    env = dict(os.environ)
    env["PYTHON_EXEC"] = args.python
    env.pop("OMP_NUM_THREADS", None)
    py = args.python
    noop = str(NOOP)
    acc = [launcher, "launch"]

    timed = {
        "bare python3 noop.py": lambda: run_one([py, noop], env),
        "accelerate launch --cpu noop.py": lambda: run_one(acc + ["--cpu", noop], env),
        # Floors: one extra exec level that does nothing else (no parent stays), and the
        # least a launcher that stays the worker's parent does (vfork, execve, waitpid).
        "env python3 noop.py (one extra exec)": lambda: run_one(["/usr/bin/env", py, noop], env),
        "bare 4 x python3 noop.py (parallel)": lambda: run_parallel([py, noop], 4, env),
        "accelerate launch --cpu --num_processes 4": lambda: run_one(
            acc + ["--cpu", "--num_processes", "4", "--main_process_port", "0", noop], env),
    }
    min_launcher = build_min_launcher()
    if min_launcher:
        timed[MIN_LAUNCHER] = lambda: run_one([min_launcher, py, noop], env)
    others = []
    for spec in args.also:
        label, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            sys.exit(f"launch_bench: --also {spec}: expected LABEL=PATH to an executable")
        other = [str(Path(path).resolve()), "launch"]
        others.append((label, other))
        timed[f"[{label}] accelerate launch --cpu noop.py"] = lambda o=other: run_one(o + ["--cpu", noop], env)
        timed[f"[{label}] accelerate launch --cpu --num_processes 4"] = lambda o=other: run_one(
            o + ["--cpu", "--num_processes", "4", "--main_process_port", "0", noop], env)
    slow = {}
    if args.torchrun:
        tr = [py, args.torchrun]
        slow = {
            "torchrun --nproc_per_node 1 noop.py": lambda: run_one(tr + ["--nproc_per_node", "1", noop], env),
            "torchrun --nproc_per_node 4 noop.py": lambda: run_one(tr + ["--nproc_per_node", "4", noop], env),
        }

    # Upstream's launcher starts one process for `--cpu --num_processes 4` (MULTI_CPU goes
    # through its simple launcher), so only the one-process command is comparable.
    UPSTREAM = "upstream (Python) launch --cpu noop.py"
    if args.upstream:
        slow[UPSTREAM] = lambda: run_one([args.upstream, "launch", "--cpu", noop], env)

    facts = machine_facts(args)
    rng = random.Random(args.seed)
    for fn in list(timed.values()) * 3:  # warm the page cache
        fn()
    results: dict[str, list[float]] = {name: [] for name in list(timed) + list(slow)}
    cpu: dict[str, list[float]] = {name: [] for name in results}
    rounds: list[dict[str, float]] = []
    for r in range(args.reps):
        variants = dict(timed)
        if r < args.torchrun_reps:
            variants.update(slow)
        order = list(variants)
        rng.shuffle(order)
        this_round = {}
        for name in order:
            this_round[name], used = variants[name]()
            results[name].append(this_round[name])
            cpu[name].append(used)
        rounds.append(this_round)
        print(f"\rround {r + 1}/{args.reps}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    def ratio(num: str, den: str) -> dict:
        paired = [rd[num] / rd[den] for rd in rounds if num in rd and den in rd]
        return {
            "of": f"{num} / {den}",
            "ratio_of_medians": statistics.median(results[num]) / statistics.median(results[den]),
            "paired_median": statistics.median(paired),
            "paired_p10": percentile(paired, 10),
            "paired_p90": percentile(paired, 90),
            "overhead_ms": (statistics.median(results[num]) - statistics.median(results[den])) * 1000,
            "cpu_ratio_of_medians": statistics.median(cpu[num]) / statistics.median(cpu[den]),
            "cpu_overhead_ms": (statistics.median(cpu[num]) - statistics.median(cpu[den])) * 1000,
        }

    ratios = [
        ratio("accelerate launch --cpu noop.py", "bare python3 noop.py"),
        ratio("accelerate launch --cpu noop.py", "env python3 noop.py (one extra exec)"),
    ]
    if min_launcher:
        ratios += [
            ratio(MIN_LAUNCHER, "bare python3 noop.py"),
            ratio("accelerate launch --cpu noop.py", MIN_LAUNCHER),
        ]
    ratios += [
        ratio("accelerate launch --cpu --num_processes 4", "bare 4 x python3 noop.py (parallel)"),
    ]
    for label, _ in others:
        ratios += [
            ratio(f"[{label}] accelerate launch --cpu noop.py", "bare python3 noop.py"),
            ratio(f"[{label}] accelerate launch --cpu --num_processes 4", "bare 4 x python3 noop.py (parallel)"),
        ]
    if args.torchrun:
        ratios += [
            ratio("torchrun --nproc_per_node 1 noop.py", "accelerate launch --cpu noop.py"),
            ratio("torchrun --nproc_per_node 4 noop.py", "accelerate launch --cpu --num_processes 4"),
        ]
    if UPSTREAM in results:
        ratios += [ratio(UPSTREAM, "accelerate launch --cpu noop.py")]

    rss_cmds = {
        "accelerate launch --cpu noop.py 0.5": acc + ["--cpu", noop, "0.5"],
        "accelerate launch --cpu --num_processes 4 noop.py 0.5": acc + [
            "--cpu", "--num_processes", "4", "--main_process_port", "0", noop, "0.5"],
        "bare python3 noop.py 0.5 (reference)": [py, noop, "0.5"],
    }
    for label, other in others:
        rss_cmds[f"[{label}] accelerate launch --cpu noop.py 0.5"] = other + ["--cpu", noop, "0.5"]
        rss_cmds[f"[{label}] accelerate launch --cpu --num_processes 4 noop.py 0.5"] = other + [
            "--cpu", "--num_processes", "4", "--main_process_port", "0", noop, "0.5"]
    if args.torchrun:
        rss_cmds["torchrun --nproc_per_node 1 noop.py 0.5"] = [py, args.torchrun, "--nproc_per_node", "1", noop, "0.5"]
        rss_cmds["torchrun --nproc_per_node 4 noop.py 0.5"] = [py, args.torchrun, "--nproc_per_node", "4", noop, "0.5"]
    if args.upstream:
        rss_cmds["upstream (Python) launch --cpu noop.py 0.5"] = [args.upstream, "launch", "--cpu", noop, "0.5"]
    rss = {name: max(peak_rss_kib(cmd, env) for _ in range(args.rss_reps)) for name, cmd in rss_cmds.items()}
    facts["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]

    # --- report ---
    print(f"machine: {facts['cpu']}, {facts['cpus_online']} CPUs, Linux {facts['kernel']}, "
          f"Python {facts['python']}" + (f", torch {facts['torch']}" if facts["torch"] else ""))
    print(f"date: {facts['date']}; launcher {launcher} (commit {facts['launcher_commit']}); "
          f"load average before {' '.join(facts['loadavg_before'])}, after {' '.join(facts['loadavg_after'])}")
    print()
    print(f"{'(ms)':<52} {'n':>3} {'wall median':>11} {'p10':>7} {'p90':>7} {'min':>7} {'CPU median':>10}")
    for name, values in results.items():
        s = summary(values)
        print(f"{name:<52} {s['n']:>3} {s['median'] * 1e3:11.1f} {s['p10'] * 1e3:7.1f} "
              f"{s['p90'] * 1e3:7.1f} {s['min'] * 1e3:7.1f} {statistics.median(cpu[name]) * 1e3:10.1f}")
    print()
    print(f"{'ratio':<92} {'wall':>7} {'paired wall (p10..p90)':>24} {'+wall':>8} {'CPU':>7} {'+CPU':>7}")
    for r in ratios:
        print(f"{r['of']:<92} {r['ratio_of_medians']:7.3f} {r['paired_median']:7.3f} "
              f"({r['paired_p10']:.3f}..{r['paired_p90']:.3f}) {r['overhead_ms']:+7.1f}ms "
              f"{r['cpu_ratio_of_medians']:7.3f} {r['cpu_overhead_ms']:+5.1f}ms")
    print()
    print(f"{'peak RSS of the launcher process itself (VmHWM)':<56} {'KiB':>8} {'MiB':>7}")
    for name, kib in rss.items():
        print(f"{name:<56} {kib:8d} {kib / 1024:7.2f}")

    verdict = []
    for r in ratios:
        if r["of"].startswith(("torchrun", "min_launcher", "upstream")):
            continue  # comparisons for reference, not targets
        target = "bare" if "/ bare" in r["of"] else "a floor"
        verdict.append(f"{'PASS' if r['ratio_of_medians'] <= 1.10 else 'MISS'} within 10% of {target} (wall): "
                       f"{r['of']} = {r['ratio_of_medians']:.3f} (CPU {r['cpu_ratio_of_medians']:.3f})")
    for name in rss:
        if "accelerate launch" not in name:
            continue
        verdict.append(f"{'PASS' if rss[name] < 8 * 1024 else 'MISS'} peak RSS < 8 MiB: {name} = "
                       f"{rss[name] / 1024:.2f} MiB")
    print()
    print("\n".join(verdict))

    if args.json:
        Path(args.json).write_text(json.dumps({
            "facts": facts,
            "times_s": {k: summary(v) | {"values": v} for k, v in results.items()},
            "cpu_s": {k: summary(v) | {"values": v} for k, v in cpu.items()},
            "ratios": ratios,
            "peak_rss_kib": rss,
        }, indent=2))


if __name__ == "__main__":
    main()
