"""The launcher's own CPU time for joined output (several workers on one console that is a
file: docs/SUPERVISION.md, Output), against another build of it, in the same run.

Not a test. Each round runs every launcher given once, in turn: 4 workers
(bench/line_writer.c, built here with the system C compiler) each write 32 MiB of 100-byte
lines to the launcher's stdout, a new file. Measured: wall time of the command, and the
launcher's own CPU (the command's rusage from wait4, which includes the workers it reaped,
minus what each worker reports for itself). Prints the medians over the rounds.

    /usr/bin/python3 bench/joined_cpu.py build/accelerate /tmp/other-build/accelerate
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("launchers", nargs="+")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--mib", type=int, default=32)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="acc_joined_")
    writer = os.path.join(work, "line_writer")
    subprocess.run(["cc", "-O2", "-o", writer, os.path.join(HERE, "line_writer.c")], check=True)
    args = ["launch", "--cpu", "--num_processes", str(a.workers), "--main_process_port", "0", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
            "--no_python", writer, str(a.mib)]
    own = {b: [] for b in a.launchers}
    walls = {b: [] for b in a.launchers}
    console = os.path.join(work, "console")
    errors = os.path.join(work, "stderr")
    for _ in range(a.rounds):
        for b in a.launchers:
            for path in (console, errors):
                if os.path.exists(path):
                    os.remove(path)  # a new file each time (see BENCHMARKS.md on truncation)
            out = os.open(console, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            err = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            t = time.perf_counter()
            pid = os.posix_spawn(b, [b] + args, os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)])
            _, status, usage = os.wait4(pid, 0)
            walls[b].append(time.perf_counter() - t)
            os.close(out)
            os.close(err)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit("%s failed: %s" % (b, open(errors).read()[-500:]))
            workers = sum(float(x) for x in re.findall(r"CPU ([0-9.]+)", open(errors).read()))
            own[b].append(usage.ru_utime + usage.ru_stime - workers)
    print("%d workers x %d MiB of 100-byte lines joined onto a file, %d rounds (medians)" % (a.workers, a.mib, a.rounds))
    for b in a.launchers:
        print("%-40s wall %.3f s, launcher CPU %.1f ms" % (b, statistics.median(walls[b]), 1e3 * statistics.median(own[b])))


if __name__ == "__main__":
    main()
