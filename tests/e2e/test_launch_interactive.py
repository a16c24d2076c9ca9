"""A single worker started from a terminal gets the terminal, as under upstream (where it
shares the launcher's process group): it can read from it (input(), pdb) instead of being
stopped by SIGTTIN, Ctrl-C reaches it, and the launcher takes the terminal back afterwards."""
import os
import pty
import select
import signal
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish

WORKER = r'''
import sys, time
sys.stdout.write("prompt> "); sys.stdout.flush()
line = sys.stdin.readline()
sys.stdout.write("got [%s]\n" % line.strip()); sys.stdout.flush()
if line.strip() == "wait":
    # Short sleeps: CPython runs a Python-level handler (KeyboardInterrupt here) only
    # between bytecodes, so a Ctrl-C landing after the print but before a long sleep
    # began would wait out the whole sleep, with or without a launcher (measured:
    # 4 in 150 bare runs under load).
    for _ in range(1200):
        time.sleep(0.05)
'''


def run_on_pty(tmp, env, typed, ctrl_c=False, timeout=60):
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        os.execve(ACCELERATE, [ACCELERATE, "launch", "--cpu", "w.py"], env)
    out = b""
    sent = False
    end = time.monotonic() + timeout
    status = None
    while time.monotonic() < end:
        if select.select([master], [], [], 0.05)[0]:
            try:
                out += os.read(master, 65536)
            except OSError:
                pass
        if not sent and b"prompt> " in out:
            os.write(master, typed)
            sent = True
        if ctrl_c and b"got [wait]" in out:
            os.write(master, b"\x03")
            ctrl_c = False
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(master)
    return status, out.decode(errors="replace")


with TempDir() as tmp:
    with open(os.path.join(tmp, "w.py"), "w") as f:
        f.write(WORKER)
    env = clean_env(tmp)
    status, out = run_on_pty(tmp, env, b"hello\n")
    check(status == 0, f"a worker reading its terminal finishes (exit {status}; {out[-300:]!r})")
    check("got [hello]" in out, "the worker read the line typed at the terminal")

    t0 = time.monotonic()
    status, out = run_on_pty(tmp, env, b"wait\n", ctrl_c=True)
    check(status == 130, f"Ctrl-C while the worker owns the terminal: exit 130 (got {status}; {out[-300:]!r})")
    check(time.monotonic() - t0 < 30, "and at once, not after the worker's sleep")
finish()
