"""`breakpoint()` on rank 0 of a real two-process gloo DDP run, started from an
interactive bash: rank 0 is given the terminal, pdb answers, and after `c` the
all_reduce completes on both ranks (exit 0)."""
import os
import pty
import select
import shutil
import signal
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish, has_torch, skip
from supervision import kill_leftovers, processes_with

MARKER = "pdb_ddp_%d" % os.getpid()

SCRIPT = r'''
import torch, torch.distributed as dist
dist.init_process_group("gloo")
rank = dist.get_rank()
t = torch.ones(1) * (rank + 1)
if rank == 0:
    answer = 41
    breakpoint()
dist.all_reduce(t)
print("rank %d sum %.1f" % (rank, t.item()), flush=True)
'''


def read_until(master, out, what, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end and what not in out[0]:
        if select.select([master], [], [], 0.05)[0]:
            try:
                out[0] += os.read(master, 65536)
            except OSError:
                return False
    return what in out[0]


if not has_torch():
    skip("no torch for the test's Python")
if not shutil.which("bash"):
    skip("no bash")

with TempDir() as tmp:
    with open(os.path.join(tmp, "ddp_pdb.py"), "w") as f:
        f.write(SCRIPT)
    env = clean_env(tmp, ACC_TEST_MARKER=MARKER, PS1="PROMPT$ ", TERM="dumb", PYTHONBREAKPOINT="pdb.set_trace")
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        os.execve(shutil.which("bash"), ["bash", "--norc", "--noprofile", "-i"], env)
    out = [b""]
    try:
        read_until(master, out, b"PROMPT$ ", 10)
        os.write(master, ('"%s" launch --cpu --num_processes 2 --num_machines 1 --mixed_precision no '
                          '--dynamo_backend no --num_cpu_threads_per_process 1 ddp_pdb.py; echo "EX""IT=$?"\n'
                          % ACCELERATE).encode())
        prompt = read_until(master, out, b"(Pdb) ", 120)
        check(prompt, "rank 0 stops in pdb at the terminal: %r" % out[0][-300:])
        os.write(master, b"p answer + 1\n")
        check(read_until(master, out, b"42", 30), "pdb answers what it is asked: %r" % out[0][-200:])
        os.write(master, b"c\n")
        finished = read_until(master, out, b"EXIT=", 120)
        text = out[0].decode(errors="replace")
        check(finished and "EXIT=0" in text, "after `c` the run finishes, exit 0: %r" % text[-300:])
        check("rank 0 sum 3.0" in text and "rank 1 sum 3.0" in text,
              "the all_reduce completed on both ranks: %r" % text[-300:])
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
        left = processes_with(MARKER)
        kill_leftovers(MARKER)
        check(left == [], "nothing of the run is left (%s)" % left)

finish()
