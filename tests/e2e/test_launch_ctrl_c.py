"""Ctrl-C at a real terminal (a pseudo-terminal): the launcher is the terminal's foreground
process group, the workers lead their own groups; every worker gets exactly one SIGINT
(forwarded), the launcher exits 130, and a second Ctrl-C kills at once even when the
workers ignore SIGINT."""
import os
import pty
import select
import signal
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish
from supervision import (eventually, kill_leftovers, launch_args, lines, processes_with, ready, reset_out, signals,
                         write_worker)


def spawn_on_pty(tmp, args, env):
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        os.execve(ACCELERATE, [ACCELERATE, "launch"] + args, env)
    return pid, master


def drain(master, output):
    while select.select([master], [], [], 0)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        output.append(data)


def wait_exit(pid, master, output, timeout):
    """The launcher's exit status (as a shell reports it), reading its terminal meanwhile."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        drain(master, output)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            drain(master, output)
            return os.waitstatus_to_exitcode(status) if status & 0x7f == 0 else 128 + (status & 0x7f)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def wait_ready(out, master, output):
    def ok():
        drain(master, output)
        return ready(out, 3)
    return eventually(ok)


with TempDir() as tmp:
    worker, out = write_worker(tmp)

    # One Ctrl-C: every worker gets SIGINT once, from the launcher; exit 130.
    marker = "ctrlc_once_%d" % os.getpid()
    pid, master = spawn_on_pty(tmp, launch_args(worker, out), clean_env(tmp, ACC_TEST_MARKER=marker))
    output = []
    check(wait_ready(out, master, output), "[^C] the workers started")
    os.write(master, b"\x03")
    status = wait_exit(pid, master, output, 60)
    left = processes_with(marker)
    kill_leftovers(marker)
    os.close(master)
    text = b"".join(output).decode(errors="replace")
    check(status == 130, "[^C] the launcher exits 130 (got %s)" % status)
    for rank in range(3):
        check(signals(out, rank) == [int(signal.SIGINT)],
              "[^C] rank %d got exactly one SIGINT (%s)" % (rank, signals(out, rank)))
    check(all(lines(out, "tty.%d" % r) == ["11"] for r in range(3)),
          "[^C] workers write to the terminal itself: stdout and stderr are ttys")
    check("received SIGINT" in text, "[^C] the launcher says it was interrupted: %r" % text[-300:])
    check(left == [], "[^C] nothing survives (%s)" % left)

    # Workers that ignore SIGINT: the first Ctrl-C is forwarded, the second kills at once.
    reset_out(out)
    marker = "ctrlc_twice_%d" % os.getpid()
    pid, master = spawn_on_pty(tmp, launch_args(worker, out, "on_signal=ignore"),
                               clean_env(tmp, ACC_TEST_MARKER=marker))
    output = []
    check(wait_ready(out, master, output), "[^C^C] the workers started")
    os.write(master, b"\x03")
    check(eventually(lambda: all(signals(out, r) == [int(signal.SIGINT)] for r in range(3)), timeout=30),
          "[^C^C] the first Ctrl-C reached every worker")
    t0 = time.monotonic()
    os.write(master, b"\x03")
    status = wait_exit(pid, master, output, 60)
    took = time.monotonic() - t0
    left = processes_with(marker)
    kill_leftovers(marker)
    os.close(master)
    check(status == 130, "[^C^C] the launcher exits 130 (got %s)" % status)
    check(took < 10, "[^C^C] the second Ctrl-C killed at once, not after the 30 s grace period (%.2f s)" % took)
    check(left == [], "[^C^C] nothing survives (%s)" % left)

finish()
