"""SIGKILL to the launcher takes the workers' own children too, not only the workers.

PR_SET_PDEATHSIG ends each worker when the launcher dies, but not the processes the
worker started (a DataLoader's workers, a subprocess): they stay in the worker's process
group and would live on, unsupervised. The launcher's guard process (a forked copy in a
group of its own, holding no file of the job) kills every worker group once the launcher
is gone. Checked with real processes:
- each of 2 workers starts a child in its group; SIGKILL to the launcher: within 1 s no
  worker, no child and no guard is left;
- while the job runs, the guard holds nothing of it but its pipe (no console, no log, no
  socket), blocks every signal, and sits in a group of its own;
- a run that ends normally leaves no guard behind; the guard does not outlive the
  launcher when SIGTERM stops the job either.
"""
import os
import signal
import subprocess
import tempfile
import time

from lib import ACCELERATE, PYTHON, TempDir, check, clean_env, finish
from supervision import eventually, is_guard, processes_with

MARKER = "death_guard_%d" % os.getpid()

WORKER = r'''
import os, subprocess, sys, time
out, rank = sys.argv[1], os.environ["RANK"]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(os.path.join(out, "pids." + rank), "w") as f:
    f.write("%d %d" % (os.getpid(), child.pid))
if sys.argv[2] == "quick":
    child.kill()
    child.wait()
    sys.exit(0)
time.sleep(120)
'''


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def guards():
    """Guard processes of this test's launchers (they inherit the launcher's environment)."""
    return [pid for pid in processes_with(MARKER) if is_guard(pid)]


def start(tmp, env, mode):
    out = tempfile.mkdtemp(dir=tmp)
    proc = subprocess.Popen([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", "0",
                             "worker.py", out, mode], cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pids = []
    ready = eventually(lambda: all(os.path.exists(os.path.join(out, f"pids.{r}")) for r in (0, 1)), 60)
    if ready:
        for r in (0, 1):
            with open(os.path.join(out, f"pids.{r}")) as f:
                pids += [int(x) for x in f.read().split()]
    return proc, pids


with TempDir() as tmp:
    with open(os.path.join(tmp, "worker.py"), "w") as f:
        f.write(WORKER)
    env = clean_env(tmp, ACC_TEST_MARKER=MARKER)

    proc, pids = start(tmp, env, "wait")
    check(len(pids) == 4, f"2 workers, each with a child of its own, started ({pids})")
    found = guards()
    check(len(found) == 1, f"one guard runs beside the launcher ({found})")
    if found:
        guard = found[0]
        fds = sorted(os.listdir(f"/proc/{guard}/fd"))
        check(fds == ["0"], f"the guard holds nothing of the job but its pipe (fds {fds})")
        with open(f"/proc/{guard}/status") as f:
            blocked = [line.split()[1] for line in f if line.startswith("SigBlk:")]
        mask = int(blocked[0], 16) if blocked else 0
        unblocked = [signo for signo in range(1, 32) if not mask & (1 << (signo - 1))]
        check(unblocked == [signal.SIGKILL, signal.SIGSTOP], f"the guard blocks every signal it can "
              f"(not blocked: {unblocked})")
        check(os.getpgid(guard) == guard and os.getpgid(guard) != os.getpgid(proc.pid),
              "the guard sits in a process group of its own")
    killed = time.monotonic()
    proc.kill()
    proc.wait()
    gone = eventually(lambda: not any(alive(p) for p in pids) and not guards(), 5)
    took = time.monotonic() - killed
    left = [p for p in pids if alive(p)]
    check(gone and took < 1.0, f"SIGKILL to the launcher: every worker and every worker's child gone, and the "
          f"guard, within 1 s ({took:.2f} s; left: {left}, guards {guards()})")
    for p in left:
        os.kill(p, signal.SIGKILL)

    proc, pids = start(tmp, env, "quick")
    rc = proc.wait(timeout=60)
    check(rc == 0 and not guards(), f"a run that ends normally leaves no guard behind (exit {rc}, {guards()})")

    proc, pids = start(tmp, env, "wait")
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    check(rc == 143 and not any(alive(p) for p in pids) and not guards(),
          f"SIGTERM: the job stops, nothing of it is left, no guard (exit {rc}, {guards()})")

finish()
