"""A failing rank: the launcher exits with that rank's own status, stops the others at once,
names the rank in its verdict, shows the @record traceback, and leaves nothing behind
(no process, no run folder)."""
import os
import re
import signal
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish, launch
from supervision import (kill_leftovers, launch_args, lines, processes_with, reset_out, signal_and_wait, signals,
                         write_worker)


# Rank 0 ignores SIGTERM; rank 1 dies of it but has forked a child, in its own process
# group, that ignores it.
SECOND_WORKER = r'''
import os, signal, sys, time
rank = int(os.environ["RANK"])
out = sys.argv[1]
if rank == 1:
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(os.path.join(out, "kid"), "w").write(str(os.getpid()))
        while True:
            time.sleep(0.05)
else:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(out, "ready.%d" % rank), "w").close()
while True:
    time.sleep(0.05)
'''


def failing_rank_case(tmp, worker, out, how, status, description, attempts=2):
    """Rank 1 fails with `how`; ranks 0 and 2 record SIGTERM and exit. The 100 ms bound on the
    teardown gets one retry, as a loaded machine can stall any process for a moment."""
    for attempt in range(attempts):
        reset_out(out)
        marker = "sup_%s_%d_%d" % (how, os.getpid(), attempt)
        env = clean_env(tmp, ACC_TEST_MARKER=marker)
        r = launch(launch_args(worker, out, "fail=1:" + how), cwd=tmp, env=env, timeout=120)
        left = processes_with(marker)
        kill_leftovers(marker)
        pid1 = int(lines(out, "pid.1")[-1]) if lines(out, "pid.1") else -1
        failed_at = float(lines(out, "failed_at")[0]) if lines(out, "failed_at") else 0.0
        stop_times = [float(l.split()[1]) for rank in (0, 2) for l in lines(out, "sig.%d" % rank)]
        slowest = max(stop_times) - failed_at if stop_times else 99.0
        if slowest >= 0.1 and attempt + 1 < attempts:
            print("note: [%s] teardown took %.3f s; retrying once" % (how, slowest), flush=True)
            continue
        label = "[fail=1:%s]" % how
        check(r.returncode == status, "%s launcher exits %d, the rank's own status (got %d)" % (label, status, r.returncode))
        verdict = "accelerate launch: rank 1 (local_rank 1, pid %d) %s" % (pid1, description)
        check(verdict in r.stderr, "%s verdict %r in stderr: %r" % (label, verdict, r.stderr[-600:]))
        check("stopped ranks 0, 2" in r.stderr, "%s verdict names the stopped ranks" % label)
        check(signals(out, 0) == [15] and signals(out, 2) == [15],
              "%s ranks 0 and 2 got SIGTERM once (%s, %s)" % (label, signals(out, 0), signals(out, 2)))
        check(slowest < 0.1, "%s the others were stopped within 100 ms of the failure (%.3f s)" % (label, slowest))
        check(left == [], "%s no process of the job survives the launcher (%s)" % (label, left))
        check(not [n for n in os.listdir(tmp) if n.startswith("torchelastic_")],
              "%s the run folder under TMPDIR is removed" % label)
        return r


with TempDir() as tmp:
    worker, out = write_worker(tmp)
    failing_rank_case(tmp, worker, out, "exit3", 3, "exited with status 3")
    failing_rank_case(tmp, worker, out, "segv", 139, "was killed by signal 11 (SIGSEGV)")
    failing_rank_case(tmp, worker, out, "kill", 137, "was killed by signal 9 (SIGKILL)")

    # @record: the root-cause traceback from TORCHELASTIC_ERROR_FILE is in the verdict.
    reset_out(out)
    r = launch(launch_args(worker, out, "fail=2:record"), cwd=tmp, env=clean_env(tmp), timeout=120)
    check(r.returncode == 1, "[record] exit 1 (got %d)" % r.returncode)
    check("rank 2 (local_rank 2" in r.stderr and "exited with status 1" in r.stderr, "[record] verdict names rank 2")
    check("Traceback (most recent call last):" in r.stderr and
          "RuntimeError: boom from rank 2 (caf\u00e9 \U0001F600)" in r.stderr,
          "[record] the traceback is shown, characters outside the BMP included: %r" % r.stderr[-800:])
    errfile = lines(out, "errfile.2")[0]
    check(errfile.startswith(tmp + "/torchelastic_") and errfile.endswith("/attempt_0/2/error.json"),
          "[record] TORCHELASTIC_ERROR_FILE is <TMPDIR>/torchelastic_*/<run>/attempt_0/2/error.json (%s)" % errfile)
    check(not os.path.exists(errfile) and not [n for n in os.listdir(tmp) if n.startswith("torchelastic_")],
          "[record] the run folder is removed after the run")

    # Data-loader style children of every rank go with the job, even those of surviving ranks.
    reset_out(out)
    marker = "sup_children_%d" % os.getpid()
    r = launch(launch_args(worker, out, "fail=0:exit3", "children=2"), cwd=tmp,
               env=clean_env(tmp, ACC_TEST_MARKER=marker), timeout=120)
    left = processes_with(marker)
    kill_leftovers(marker)
    kids = [int(p) for rank in range(3) for p in lines(out, "kid.%d" % rank)]
    check(r.returncode == 3, "[children] exit 3 (got %d)" % r.returncode)
    check(len(kids) == 6, "[children] each rank forked 2 children (%d)" % len(kids))
    check(left == [], "[children] no child survives (%s)" % left)

    # A second SIGTERM kills at once even when a rank has already gone and left a child
    # in its group that ignores SIGTERM (a data-loader worker), while another rank still
    # runs: nothing waits out the first signal's grace period (8 s here).
    second = os.path.join(tmp, "second.py")
    with open(second, "w") as f:
        f.write(SECOND_WORKER)
    sec_out = os.path.join(tmp, "second_out")
    os.makedirs(sec_out, exist_ok=True)
    marker = "sup_second_%d" % os.getpid()
    p = subprocess.Popen([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", "0",
                          "--grace_period", "8", second, sec_out], cwd=tmp,
                         env=clean_env(tmp, ACC_TEST_MARKER=marker), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    started = lambda: all(os.path.exists(os.path.join(sec_out, n)) for n in ("ready.0", "ready.1", "kid"))
    end = time.monotonic() + 60
    while time.monotonic() < end and not started():
        time.sleep(0.02)
    check(started(), "[second SIGTERM] both ranks and rank 1's child are up")
    p.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    _, took = signal_and_wait(p, 20)
    left = processes_with(marker)
    kill_leftovers(marker)
    check(p.returncode == 143 and took < 2,
          "[second SIGTERM] exit 143 at once, not after the grace period (got %s after %.2f s)" % (p.returncode, took))
    check(left == [], "[second SIGTERM] nothing survives (%s)" % left)

    # A rank that ignores SIGTERM is SIGKILLed once --grace_period (seconds) is over.
    reset_out(out)
    marker = "sup_grace_%d" % os.getpid()
    t0 = time.monotonic()
    r = launch(launch_args(worker, out, "fail=1:exit3", "on_signal=ignore", "children=1",
                           flags=("--grace_period", "1.5")), cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
               timeout=120)
    took = time.monotonic() - t0
    left = processes_with(marker)
    kill_leftovers(marker)
    failed_at = float(lines(out, "failed_at")[0])
    check(r.returncode == 3, "[grace] exit 3 (got %d)" % r.returncode)
    check(signals(out, 0)[:1] == [15], "[grace] rank 0 got SIGTERM and ignored it (%s)" % signals(out, 0))
    check(time.time() - failed_at >= 1.4, "[grace] SIGKILL waited for the grace period")
    check(took < 25, "[grace] --grace_period 1.5 shortened the 30 s default (%.1f s)" % took)
    check(left == [], "[grace] nothing survives (%s)" % left)
    check("rank 1 (local_rank 1" in r.stderr and "stopped ranks 0, 2" in r.stderr, "[grace] verdict: %r" % r.stderr[-400:])

    # A rank that ignores SIGTERM and moved itself out of its process group (into the
    # launcher's): it is signalled itself, so the grace period still ends it (before, the
    # launcher waited for it for ever).
    moved = os.path.join(tmp, "moved.py")
    with open(moved, "w") as f:
        f.write("import os, signal, time\n"
                "if os.environ['RANK'] == '0':\n"
                "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "    os.setpgid(0, os.getpgid(os.getppid()))\n"
                "    time.sleep(60)\n"
                "else:\n"
                "    time.sleep(0.5)\n"
                "    os._exit(3)\n")
    marker = "sup_moved_%d" % os.getpid()
    t0 = time.monotonic()
    p = subprocess.Popen([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", "0",
                          "--grace_period", "1", moved], cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    took = time.monotonic() - t0
    left = processes_with(marker)
    kill_leftovers(marker)
    check(p.returncode == 3 and took < 15 and left == [],
          "[moved out of its group] the rank is killed after the grace period: exit 3 in %.1f s (got %s), "
          "nothing left (%s)" % (took, p.returncode, left))

    # --grace_period inf (or any huge number) is "wait for ever", not "no grace": the rank
    # that ignores SIGTERM ends on its own 1.5 s after the failure (before: SIGKILLed at once).
    slow = os.path.join(tmp, "slow.py")
    with open(slow, "w") as f:
        f.write("import os, signal, time\n"
                "if os.environ['RANK'] == '0':\n"
                "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "    time.sleep(2)\n"
                "else:\n"
                "    time.sleep(0.5)\n"
                "    os._exit(3)\n")
    for grace in ("inf", "1e300"):
        t0 = time.monotonic()
        r = launch(["--cpu", "--num_processes", "2", "--main_process_port", "0", "--grace_period", grace, slow],
                   cwd=tmp, env=clean_env(tmp), timeout=60)
        took = time.monotonic() - t0
        check(r.returncode == 3 and took >= 1.8 and "stopped rank 0" in r.stderr,
              "[--grace_period %s] the rank ignoring SIGTERM is not killed: it ends on its own (%.1f s, %r)"
              % (grace, took, r.stderr.strip()[-200:]))

    # A SIGTERM to the launcher during that grace period does not start it again: the
    # ranks that ignore SIGTERM are killed when the failure's grace period ends.
    reset_out(out)
    marker = "sup_grace_signal_%d" % os.getpid()
    p = subprocess.Popen([ACCELERATE, "launch"] + launch_args(worker, out, "fail=1:exit3", "on_signal=ignore",
                                                               flags=("--grace_period", "4")),
                         cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while time.monotonic() < end and not lines(out, "failed_at"):
        time.sleep(0.02)
    time.sleep(2.0)
    signal_and_wait(p, 30)
    after_failure = time.time() - float(lines(out, "failed_at")[0]) if lines(out, "failed_at") else 99.0
    kill_leftovers(marker)
    check(after_failure < 5.2, "[grace, then SIGTERM] the failure's 4 s grace period stands (ended %.1f s after "
          "the failure; 6 s if the signal had started it again)" % after_failure)

    # The system refuses to fork a rank (a process limit: ulimit -u, a cgroup's pids.max):
    # that rank is the failure, the ranks already running are stopped in order, one
    # verdict line says why; no "internal error", nothing left. Run as nobody, whose
    # RLIMIT_NPROC leaves room for the launcher and a few workers only.
    if os.geteuid() == 0:
        import json
        import resource

        def nobody_with_few_processes(room=5):
            mine = sum(1 for p in os.listdir("/proc") if p.isdigit() and
                       "\nUid:\t65534\t" in (open("/proc/%s/status" % p).read() if os.path.exists("/proc/%s/status" % p) else ""))
            resource.setrlimit(resource.RLIMIT_NPROC, (mine + room, mine + room))
            os.setgid(65534)
            os.setuid(65534)

        # Room for the launcher only: its agent store's thread is refused (a thread counts as
        # a process): one line naming the limit, not "internal error".
        r = subprocess.run([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", "0",
                            "--no_python", "/bin/sleep", "30"], cwd="/tmp",
                           env=clean_env("/tmp", HF_HOME="/nonexistent_acc_hf"),
                           preexec_fn=lambda: nobody_with_few_processes(1), capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 1 and r.stderr.strip().splitlines()[-1:] ==
              ["accelerate: error: could not start the agent store's thread: Resource temporarily unavailable "
               "(a limit on processes: ulimit -u, or the cgroup's pids.max)"],
              "[no room for a thread] one line naming the limit (%d: %r)" % (r.returncode, r.stderr[-300:]))

        marker = "sup_nproc_%d" % os.getpid()
        verdict_path = os.path.join("/tmp", "acc_nproc_%d.json" % os.getpid())
        r = subprocess.run([ACCELERATE, "launch", "--cpu", "--num_processes", "8", "--main_process_port", "0",
                            "--verdict_json", verdict_path, "--no_python", "/bin/sleep", "30"], cwd="/tmp",
                           env=clean_env("/tmp", ACC_TEST_MARKER=marker, HF_HOME="/nonexistent_acc_hf"),
                           preexec_fn=nobody_with_few_processes,
                           capture_output=True, text=True, timeout=120)
        left = processes_with(marker)
        kill_leftovers(marker)
        m = re.search(r"accelerate launch: rank (\d+) \(local_rank \d+\) could not be started: fork failed: "
                      r"Resource temporarily unavailable \(a limit on processes: ulimit -u, or the cgroup's pids.max\); "
                      r"stopped ranks? ([\d, ]+)", r.stderr)
        check(r.returncode == 1 and m is not None and "internal error" not in r.stderr,
              "[fork refused] exit 1, one verdict line naming the rank and the limit (%d: %r)"
              % (r.returncode, r.stderr[-400:]))
        if m:
            check([int(x) for x in m.group(2).split(", ")] == list(range(int(m.group(1)))),
                  "[fork refused] the ranks started before it were stopped: %s" % m.group(2))
        check(left == [], "[fork refused] nothing survives (%s)" % left)
        try:
            with open(verdict_path) as f:
                ff = json.load(f)["first_failure"]
            os.remove(verdict_path)
        except (OSError, ValueError, KeyError):
            ff = None
        check(ff is not None and ff["description"] == "could not start: fork: Resource temporarily unavailable"
              and ff["pid"] is None, "[fork refused] the verdict file says so: %s" % ff)

finish()
