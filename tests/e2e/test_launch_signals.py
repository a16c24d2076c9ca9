"""Signals to the launcher: SIGTERM/SIGHUP are forwarded to every worker and the launcher exits
128+N; --grace_period bounds the wait for workers that ignore them; a SIGKILLed launcher takes
its workers with it (PR_SET_PDEATHSIG) within 1 s; SIGUSR1/SIGUSR2 (a scheduler's "checkpoint
now") reach each worker process, not its children, and do not end the launcher."""
import os
import signal
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish
from supervision import (alive, eventually, kill_leftovers, launch_args, lines, pids, processes_with, ready,
                         reset_out, signals, write_worker)


def start(tmp, args, marker, **kw):
    return subprocess.Popen([ACCELERATE, "launch"] + args, cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_end(p, marker, what):
    """The launcher's exit status and stderr; a launcher that does not end is a failure, not a hang."""
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        kill_leftovers(marker)
        p.kill()
        _, err = p.communicate()
        check(False, "[%s] the launcher ended within 60 s" % what)
    return p.returncode, err


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

    # SIGUSR1 as a preemption notice: every rank saves and exits 0, so does the run. Its
    # child (a data-loader worker, say) is not signalled: it would die of it otherwise.
    reset_out(out)
    marker = "sig_usr1_%d" % os.getpid()
    p = start(tmp, launch_args(worker, out, "usr=exit", "children=1"), marker)
    check(eventually(lambda: ready(out, 3) and all(lines(out, "kid.%d" % r) for r in range(3))),
          "[SIGUSR1] the workers and their children started")
    p.send_signal(signal.SIGUSR1)
    code, err = wait_end(p, marker, "SIGUSR1")
    left = processes_with(marker)
    kill_leftovers(marker)
    check(code == 0, "[SIGUSR1] every rank handled it and exited 0, so does the launcher (got %d): %r"
          % (code, err[-300:]))
    check(all(signals(out, r) == [int(signal.SIGUSR1)] for r in range(3)),
          "[SIGUSR1] each worker got it once and its child did not (%s)" % [signals(out, r) for r in range(3)])
    check(left == [], "[SIGUSR1] nothing survives (%s)" % left)
    check(run_dirs(tmp) == [], "[SIGUSR1] the run folder is removed")

    # SIGUSR2 to a job that notes it and goes on: the job goes on; then SIGTERM ends it.
    reset_out(out)
    marker = "sig_usr2_%d" % os.getpid()
    p = start(tmp, launch_args(worker, out, "usr=note"), marker)
    check(eventually(lambda: ready(out, 3)), "[SIGUSR2] the workers started")
    workers = pids(out, 3)
    p.send_signal(signal.SIGUSR2)
    noted = eventually(lambda: all(signals(out, r) == [int(signal.SIGUSR2)] for r in range(3)), timeout=10)
    time.sleep(0.3)
    check(noted, "[SIGUSR2] each worker got it once (%s)" % [signals(out, r) for r in range(3)])
    check(p.poll() is None and all(alive(pid) for pid in workers), "[SIGUSR2] the launcher and workers go on")
    p.send_signal(signal.SIGTERM)
    code, _ = wait_end(p, marker, "SIGUSR2")
    kill_leftovers(marker)
    check(code == 143, "[SIGUSR2] then SIGTERM ends the run as usual (got %d)" % code)

    # A script without a handler dies of it, as if started directly; the verdict says so.
    reset_out(out)
    marker = "sig_usr1_default_%d" % os.getpid()
    p = start(tmp, launch_args(worker, out), marker)
    check(eventually(lambda: ready(out, 3)), "[SIGUSR1, no handler] the workers started")
    p.send_signal(signal.SIGUSR1)
    code, err = wait_end(p, marker, "SIGUSR1, no handler")
    left = processes_with(marker)
    kill_leftovers(marker)
    check(code == 128 + signal.SIGUSR1, "[SIGUSR1, no handler] exit %d (got %d)" % (128 + signal.SIGUSR1, code))
    check("SIGUSR1" in err and "received SIGUSR1" not in err,
          "[SIGUSR1, no handler] the verdict names a rank killed by SIGUSR1: %r" % err[-300:])
    check(left == [], "[SIGUSR1, no handler] nothing survives (%s)" % left)

    # Started with SIGUSR1 ignored: it stays ignored, by the launcher and the workers.
    reset_out(out)
    marker = "sig_usr1_ignored_%d" % os.getpid()
    p = start(tmp, launch_args(worker, out), marker,
              preexec_fn=lambda: signal.signal(signal.SIGUSR1, signal.SIG_IGN))
    check(eventually(lambda: ready(out, 3)), "[SIGUSR1 ignored] the workers started")
    workers = pids(out, 3)
    p.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    check(p.poll() is None and all(alive(pid) for pid in workers), "[SIGUSR1 ignored] nothing ended")
    p.send_signal(signal.SIGTERM)
    code, _ = wait_end(p, marker, "SIGUSR1 ignored")
    kill_leftovers(marker)
    check(code == 143, "[SIGUSR1 ignored] SIGTERM still ends it (got %d)" % code)

finish()
