"""The console cannot be written: a full disk, a closed stderr, a terminal that hung up.
Messages are dropped, never turned into an abort (fmt::print throws on a short write),
the run's status stays the run's, and a command whose job is its output fails for it.
"""
import os
import pty
import shutil
import signal
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish, skip
from supervision import eventually, kill_leftovers, processes_with

MARKER = "console_gone_%d" % os.getpid()

FAILS = "import sys\nsys.exit(3)\n"

# Starts a child of its own (as a data loader would), then waits to be stopped.
LINGERS = r'''
import os, subprocess, sys, time
out = sys.argv[1]
rank = int(os.environ.get("RANK", "0"))
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(os.path.join(out, "ready.%d" % rank), "w") as f:
    f.write(str(child.pid))
time.sleep(120)
'''


def run(args, cwd, env, **kw):
    return subprocess.run([ACCELERATE] + args, cwd=cwd, env=env, timeout=60, **kw)



if not os.path.exists("/dev/full"):
    skip("no /dev/full")

with TempDir() as tmp:
    env = clean_env(tmp, ACC_TEST_MARKER=MARKER)
    for name, text in (("fails.py", FAILS), ("lingers.py", LINGERS)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    cpu = ["launch", "--cpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]

    # A full disk under stderr: the warning and the verdict are lost, the status is the rank's.
    with open("/dev/full", "w") as full:
        r = run(cpu + ["fails.py"], tmp, env, stdout=subprocess.DEVNULL, stderr=full)
    check(r.returncode == 3, "[2>/dev/full] the rank's status 3, no abort (got %d)" % r.returncode)

    # stderr closed altogether.
    r = run(cpu + ["fails.py"], tmp, env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(), close_fds=True, preexec_fn=lambda: os.close(2))
    check(r.returncode == 3, "[2>&-] the rank's status 3, no abort (got %d)" % r.returncode)

    # Output that is the command's whole job: its loss is an error (exit 1), said on stderr.
    for args in (cpu + ["--dry_run", "fails.py"], ["env"]):
        with open("/dev/full", "w") as full:
            r = run(args, tmp, env, stdout=full, stderr=subprocess.PIPE, text=True)
        label = " ".join(args[:1] + args[-2:])
        check(r.returncode == 1, "[%s >/dev/full] exit 1 (got %d)" % (label, r.returncode))
        check("could not write the output: No space left on device" in r.stderr,
              "[%s >/dev/full] says why: %r" % (label, r.stderr[-200:]))

    # The terminal hangs up under a running job whose output goes to it: the SIGHUP is
    # handled in order (the workers' own children are stopped too, the run folder goes)
    # although the message about it can no longer be written.
    out = os.path.join(tmp, "hup")
    os.mkdir(out)
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        os.execve(ACCELERATE, [ACCELERATE] + cpu + ["--num_processes", "2", "lingers.py", out], env)
    started = eventually(lambda: all(os.path.exists(os.path.join(out, "ready.%d" % r)) for r in range(2)))
    check(started, "[hangup] the workers and their children started")
    os.close(master)  # the terminal goes away: the session leader (the launcher) gets SIGHUP
    status = None
    end = time.monotonic() + 30
    while time.monotonic() < end:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        time.sleep(0.02)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status) if status is not None else None
    check(code == 128 + signal.SIGHUP, "[hangup] the launcher exits 129, as stopped by SIGHUP (got %s)" % code)
    check(eventually(lambda: processes_with(MARKER) == [], 10),
          "[hangup] no worker and no child of one is left (%s)" % processes_with(MARKER))
    check([n for n in os.listdir(tmp) if n.startswith("torchelastic_")] == [],
          "[hangup] the run folder was removed")
    kill_leftovers(MARKER)

finish()
