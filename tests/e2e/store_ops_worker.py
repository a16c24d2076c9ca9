"""A worker that exercises the launcher-hosted store through torch's own client.

Runs under `accelerate launch` with TORCHELASTIC_USE_AGENT_STORE=True: init_process_group(env://, gloo),
all_reduce, barrier, then set/get/add/wait/compare_set/delete_key/num_keys (and the newer
check/multi_get/multi_set/append where this torch has them) on a second client of the same store.
"""
import datetime
import functools
import os
import sys

import torch
import torch.distributed as dist

NO_LIBUV = os.environ.get("USE_LIBUV") == "0"
if NO_LIBUV:
    # Debian 13's torch 2.6 is built without libuv, yet its agent-store client path asks for
    # libuv and fails; pass use_libuv=False explicitly (a torch packaging bug, not the store's).
    # (torch.distributed.rendezvous is also a function name; take the module itself.)
    rendezvous = sys.modules["torch.distributed.rendezvous"]
    rendezvous.TCPStore = functools.partial(dist.TCPStore, use_libuv=False)

assert os.environ["TORCHELASTIC_USE_AGENT_STORE"] == "True"
dist.init_process_group("gloo")  # env://
rank, world = dist.get_rank(), dist.get_world_size()
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
assert t.item() == world * (world + 1) / 2, t
dist.barrier()

kw = {"use_libuv": False} if NO_LIBUV else {}
store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), None, False,
                      timeout=datetime.timedelta(seconds=60), **kw)
store.set(f"k{rank}", f"v{rank}")
store.wait([f"k{r}" for r in range(world)])
assert store.get(f"k{(rank + 1) % world}") == f"v{(rank + 1) % world}".encode()
store.add("counter", 1)
dist.barrier()
assert store.add("counter", 0) == world
if rank == 0:
    assert store.compare_set("cas", "", "first") == b"first"
    assert store.compare_set("cas", "wrong", "x") == b"first"
    assert store.compare_set("cas", "first", "second") == b"second"
    assert store.compare_set("missing", "expected", "x") == b"expected"
    store.set("tmp", "1")
    assert store.delete_key("tmp") is True
    assert store.delete_key("tmp") is False
    assert store.num_keys() >= world + 2
    try:
        store.wait(["never-set"], datetime.timedelta(milliseconds=300))
        raise AssertionError("wait on a missing key returned")
    except RuntimeError:
        pass  # timed out as it should; the connection stays usable:
    assert store.get("cas") == b"second"
    if hasattr(store, "check"):
        assert store.check(["cas"]) and not store.check(["never-set"])
    if hasattr(store, "multi_set"):
        store.multi_set(["m1", "m2"], ["a", "b"])
        assert store.multi_get(["m1", "m2"]) == [b"a", b"b"]
    if hasattr(store, "append"):
        store.append("app", "x")
        store.append("app", "y")
        assert store.get("app") == b"xy"
dist.barrier()
# One write per line: under `python -u` print() writes the newline separately and ranks interleave.
sys.stdout.write(f"rank {rank}/{world} store ok torch {torch.__version__}\n")
dist.destroy_process_group()
