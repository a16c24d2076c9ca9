"""Worker for gpu_checks.py: takes GPU memory, says it is ready, then waits or fails.

Each rank allocates HOLD_GIB GiB (default 2) on cuda:0 ($HOLD_DEVICE) with plain allocations, writes its pid into
$HOLD_DIR/ready-<rank>, and then, if it is rank $HOLD_FAIL_RANK, waits until every rank is
ready, notes time.time() in $HOLD_DIR/failed-at and exits 3; else it sleeps (as a rank
stuck in a collective would) until it is stopped.
"""
import os
import sys
import time

import torch

rank = int(os.environ.get("RANK", "0"))
world = int(os.environ.get("WORLD_SIZE", "1"))
folder = os.environ["HOLD_DIR"]
size = int(float(os.environ.get("HOLD_GIB", "2")) * (1 << 30))
block = torch.empty(size, dtype=torch.uint8, device=os.environ.get("HOLD_DEVICE", "cuda:0"))
block.fill_(1)
if block.is_cuda:
    torch.cuda.synchronize()
with open(os.path.join(folder, f"ready-{rank}"), "w") as f:
    f.write(str(os.getpid()))
if str(rank) == os.environ.get("HOLD_FAIL_RANK"):
    while not all(os.path.exists(os.path.join(folder, f"ready-{r}")) for r in range(world)):
        time.sleep(0.01)
    with open(os.path.join(folder, "failed-at"), "w") as f:
        f.write(repr(time.time()))
    sys.stderr.write(f"rank {rank}: giving up on purpose\n")
    sys.stderr.flush()
    os._exit(3)
time.sleep(600)
