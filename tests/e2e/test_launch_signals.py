"""Signals to the launcher: SIGTERM/SIGHUP are forwarded to every worker and the launcher exits
128+N; --grace_period bounds the wait for workers that ignore them; a SIGKILLed launcher takes
its workers with it (PR_SET_PDEATHSIG) within 1 s."""
import os
import signal
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish
from supervision import (alive, eventually, kill_leftovers, launch_args, lines, pids, processes_with, ready,
                         reset_out, signals, write_worker)


def start(tmp, args, marker):
    return subprocess.Popen([ACCELERATE, "launch"] + args, cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_dirs(tmp):
    return [n for n in os.listdir(tmp) if n.startswith("torchelastic_")]


with TempDir() as tmp:
    worker, out = write_worker(tmp)

    # SIGTERM and SIGHUP: forwarded once to every worker; exit 128+N; nothing left.
    for signo, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):
        reset_out(out)
        marker = "sig_%s_%d" % (name, os.getpid())
        p = start(tmp, launch_args(worker, out, "children=1"), marker)
        check(eventually(lambda: ready(out, 3)), "[%s] the workers started" % name)
        p.send_signal(signo)
        _, err = p.communicate(timeout=60)
        left = processes_with(marker)
        kill_leftovers(marker)
        check(p.returncode == 128 + signo, "[%s] launcher exits %d (got %d)" % (name, 128 + signo, p.returncode))
        for rank in range(3):
            # The worker and its child (same process group, same handler) each record it once.
            check(signals(out, rank) == [int(signo)] * 2,
                  "[%s] rank %d and its child got %s once each (%s)" % (name, rank, name, signals(out, rank)))
        check("received %s" % name in err, "[%s] the launcher says why it stopped: %r" % (name, err[-300:]))
        check(left == [], "[%s] nothing survives (%s)" % (name, left))
        check(run_dirs(tmp) == [], "[%s] the run folder is removed" % name)

    # Workers that ignore SIGTERM: SIGKILL after --grace_period, still exit 143.
    reset_out(out)
    marker = "sig_grace_%d" % os.getpid()
    p = start(tmp, launch_args(worker, out, "on_signal=ignore", flags=("--grace_period", "1")), marker)
    check(eventually(lambda: ready(out, 3)), "[grace] the workers started")
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    took = time.monotonic() - t0
    left = processes_with(marker)
    kill_leftovers(marker)
    check(p.returncode == 143, "[grace] exit 143 (got %d)" % p.returncode)
    check(all(signals(out, r) == [15] for r in range(3)), "[grace] every worker got SIGTERM")
    check(0.9 <= took < 20, "[grace] SIGKILL came after the 1 s grace period, not 30 s (%.2f s)" % took)
    check(left == [], "[grace] nothing survives (%s)" % left)

    # SIGKILL to the launcher: every worker is gone within 1 s.
    reset_out(out)
    marker = "sig_kill_%d" % os.getpid()
    p = start(tmp, launch_args(worker, out), marker)
    check(eventually(lambda: ready(out, 3)), "[SIGKILL] the workers started")
    workers = pids(out, 3)
    p.kill()
    p.communicate(timeout=60)
    t0 = time.monotonic()
    gone = eventually(lambda: not any(alive(pid) for pid in workers), timeout=1.0)
    took = time.monotonic() - t0
    left = processes_with(marker)
    kill_leftovers(marker)
    check(gone, "[SIGKILL] every worker died within 1 s of the launcher (%.3f s; left %s)" % (took, left))
    for d in run_dirs(tmp):  # a SIGKILLed launcher cannot clean up; do it for it
        subprocess.run(["rm", "-rf", os.path.join(tmp, d)])

finish()
