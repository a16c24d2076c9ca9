"""Benchmark (not a test): N clients x M set/get through torch's own TCPStore client,
against the store hosted by `accelerate launch` and against torch's own TCPStore server,
on loopback, in the same run.

    PYTHON_EXEC=/usr/bin/python3 /usr/bin/python3 bench/store_bench.py --launcher build/accelerate

Prints the median wall time of each and the ratio torch/ours (>1: ours is faster).
"""
import argparse
import datetime
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import torch.distributed as dist

WAITER = "import os, time\nwhile not os.path.exists(os.environ['BENCH_DONE']): time.sleep(0.05)\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def client(port, index, m, start, out):
    store = dist.TCPStore("127.0.0.1", port, None, False, timeout=datetime.timedelta(seconds=60))
    start.wait()
    t0 = time.perf_counter()
    for i in range(m):
        store.set(f"c{index}/k{i}", "x" * 32)
        store.get(f"c{index}/k{i}")
    out.put(time.perf_counter() - t0)


def round_trip(port, n, m):
    start = mp.Event()
    out = mp.Queue()
    procs = [mp.Process(target=client, args=(port, i, m, start, out)) for i in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every client connected and waiting
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    return time.perf_counter() - t0


def torch_server(port, ready, stop):
    store = dist.TCPStore("127.0.0.1", port, None, True, timeout=datetime.timedelta(seconds=60),
                          wait_for_workers=False)
    ready.set()
    stop.wait()
    del store


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--launcher", default="build/accelerate")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp()
    waiter = os.path.join(tmp, "wait.py")
    with open(waiter, "w") as f:
        f.write(WAITER)
    done = os.path.join(tmp, "done")
    ours_port = free_port()
    env = dict(os.environ, BENCH_DONE=done, PYTHON_EXEC=os.environ.get("PYTHON_EXEC", sys.executable))
    job = subprocess.Popen([a.launcher, "launch", "--cpu", "--num_processes", "2", "--main_process_port",
                            str(ours_port), waiter], env=env, stderr=subprocess.DEVNULL)
    time.sleep(1.0)

    torch_port = free_port()
    ready, stop = mp.Event(), mp.Event()
    server = mp.Process(target=torch_server, args=(torch_port, ready, stop))
    server.start()
    ready.wait()

    ours, theirs = [], []
    for _ in range(a.rounds):  # interleaved, so machine load hits both alike
        ours.append(round_trip(ours_port, a.clients, a.ops))
        theirs.append(round_trip(torch_port, a.clients, a.ops))
    open(done, "w").close()
    stop.set()
    server.join()
    job.wait()

    o, t = statistics.median(ours), statistics.median(theirs)
    total = a.clients * a.ops * 2
    print(f"{a.clients} clients x {a.ops} set+get ({total} requests), {a.rounds} rounds, median wall time:")
    print(f"  accelerate launch's store: {o * 1000:8.1f} ms  ({total / o:,.0f} req/s)")
    print(f"  torch TCPStore server:     {t * 1000:8.1f} ms  ({total / t:,.0f} req/s)")
    print(f"  ratio torch/ours: {t / o:.2f}")


if __name__ == "__main__":
    main()
