"""The terminal goes away (ssh drops, the window closes) under an interactive bash, which
then sends SIGHUP to its jobs:

- a run started with `nohup accelerate launch ... &` survives, as a script started with
  nohup does (the launcher inherits SIGHUP ignored and leaves it so; upstream's torchrun
  path installs a handler and dies of it);
- a run started with a plain `&` is stopped by that SIGHUP, every worker with it.
"""
import os
import pty
import select
import shutil
import signal
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish, skip
from supervision import eventually, kill_leftovers, processes_with

MARKER = "hangup_%d" % os.getpid()

# Runs until told to stop (or for 60 s), then writes done.<rank>.
WORKER = r'''
import os, sys, time
out = sys.argv[1]
rank = int(os.environ.get("RANK", "0"))
open(os.path.join(out, "ready.%d" % rank), "w").close()
end = time.monotonic() + 60
while not os.path.exists(os.path.join(out, "stop")) and time.monotonic() < end:
    time.sleep(0.02)
open(os.path.join(out, "done.%d" % rank), "w").close()
'''



def run_and_hang_up(tmp, env, out, prefix):
    """Start the job in the background of an interactive bash, then hang up the terminal."""
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        os.execve(shutil.which("bash"), ["bash", "--norc", "--noprofile", "-i"], dict(env, PS1="PROMPT$ "))
    line = '%s"%s" launch --cpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no ' \
           '--num_cpu_threads_per_process 1 --grace_period 1 w.py %s > %s/launcher.log 2>&1 &\n' % (prefix, ACCELERATE, out, out)
    os.write(master, line.encode())
    started = eventually(lambda: all(os.path.exists(os.path.join(out, "ready.%d" % r)) for r in range(2)))
    # What a terminal that goes away does: the kernel sends SIGHUP to the session leader,
    # and bash passes it on to every job before it exits.
    os.kill(pid, signal.SIGHUP)
    os.close(master)
    os.waitpid(pid, 0)
    return started


if not shutil.which("bash") or not shutil.which("nohup"):
    skip("no bash or nohup")

with TempDir() as tmp:
    with open(os.path.join(tmp, "w.py"), "w") as f:
        f.write(WORKER)
    env = clean_env(tmp, ACC_TEST_MARKER=MARKER)

    out = os.path.join(tmp, "nohup")
    os.mkdir(out)
    started = run_and_hang_up(tmp, env, out, "nohup ")
    check(started, "[nohup] the workers started")
    time.sleep(2.0)  # past the 1 s grace period a stop would have started
    alive = processes_with(MARKER)
    check(len(alive) == 3, "[nohup] the launcher and both workers outlive the hangup (%d alive)" % len(alive))
    open(os.path.join(out, "stop"), "w").close()
    done = eventually(lambda: all(os.path.exists(os.path.join(out, "done.%d" % r)) for r in range(2)))
    check(done, "[nohup] both workers ran to their end")
    check(eventually(lambda: processes_with(MARKER) == []), "[nohup] the launcher ended with them")
    with open(os.path.join(out, "launcher.log")) as f:
        log = f.read()
    check("SIGHUP" not in log, "[nohup] the launcher did not act on the SIGHUP: %r" % log[-300:])
    kill_leftovers(MARKER)

    out = os.path.join(tmp, "plain")
    os.mkdir(out)
    started = run_and_hang_up(tmp, env, out, "")
    check(started, "[&] the workers started")
    check(eventually(lambda: processes_with(MARKER) == [], 10), "[&] SIGHUP stops the launcher and every worker")
    check(not any(os.path.exists(os.path.join(out, "done.%d" % r)) for r in range(2)),
          "[&] the workers were stopped, not left to finish")
    with open(os.path.join(out, "launcher.log")) as f:
        log = f.read()
    check("SIGHUP" in log, "[&] the launcher says it got SIGHUP: %r" % log[-300:])
    kill_leftovers(MARKER)

finish()
