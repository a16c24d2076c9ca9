"""The launcher-hosted store under hostile and heavy load: garbage never crashes or stalls it.

While a real 2-rank gloo job runs, this test opens hundreds of raw connections that send random
bytes, oversized length prefixes, half messages and then vanish, plus 200 of torch's own store
clients doing set/get; the job must still finish, and the store must still answer.
"""
import datetime
import os
import random
import socket
import subprocess
import time

from lib import ACCELERATE, PYTHON, TempDir, check, clean_env, finish, has_torch, skip

if not has_torch():
    skip("no torch for the test Python")
import torch.distributed as dist  # noqa: E402

WORKER = r'''
import os, sys, time, torch, torch.distributed as dist
dist.init_process_group("gloo")
open(os.environ["READY"] + str(dist.get_rank()), "w").close()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.05)
t = torch.ones(1); dist.all_reduce(t); dist.barrier()
sys.stdout.write(f"rank {dist.get_rank()} done {t.item():.0f}\n")
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


with TempDir() as tmp:
    script = os.path.join(tmp, "w.py")
    with open(script, "w") as f:
        f.write(WORKER)
    port = free_port()
    env = clean_env(tmp, READY=os.path.join(tmp, "ready"), GO=os.path.join(tmp, "go"))
    job = subprocess.Popen([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", str(port),
                            script], cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not all(os.path.exists(env["READY"] + r) for r in "01") and time.time() < deadline and job.poll() is None:
        time.sleep(0.1)
    check(job.poll() is None, "job is up")

    rng = random.Random(7)
    socks = []
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", port))
        kind = i % 4
        if kind == 0:
            s.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))))
        elif kind == 1:  # legacy SET claiming a 2^62-byte key
            s.sendall(b"\x00" + (1 << 62).to_bytes(8, "little"))
        elif kind == 2:  # VALIDATE then half a message, then silence
            s.sendall(b"\x00\xce\xf7\x85\x3c\x01\x05\x00")
        else:  # wrong magic
            s.sendall(b"\x00\xce\xf7\x85\x3d")
        socks.append(s)
    for s in socks[::2]:
        s.close()  # half of them vanish at once

    t0 = time.time()
    clients = [dist.TCPStore("127.0.0.1", port, None, False, timeout=datetime.timedelta(seconds=30))
               for _ in range(200)]
    for i, c in enumerate(clients):
        c.set(f"load/{i}", str(i))
    ok = all(clients[(i + 1) % 200].get(f"load/{i}") == str(i).encode() for i in range(200))
    check(ok, f"200 torch clients set/get while garbage connections are open ({time.time() - t0:.1f}s)")
    check(job.poll() is None, "the launcher survived the garbage")
    for s in socks[1::2]:
        s.close()
    del clients

    open(env["GO"], "w").close()
    try:
        out, err = job.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        job.kill()
        out, err = job.communicate()
    check(job.returncode == 0, f"the job finished normally (exit {job.returncode}; {err[-400:]!r})")
    check(out.count("done 2") == 2, "both ranks completed their all_reduce after the attack")
finish()
