"""A small model trained with DistributedDataParallel on gloo, one process per rank.

Start it through the launcher:  build/accelerate launch --cpu --num_processes 2 examples/train_ddp.py
Each rank prints its loss; the script exits non-zero if the ranks disagree on the weights.
Uses Hugging Face Accelerate when it is installed, plain torch.distributed otherwise,
so it runs with Debian's python3-torch alone.
"""
import argparse
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    dist.init_process_group("gloo")  # env://: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT from the launcher
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # same initial weights everywhere
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr)

    # Each rank sees its own shard of a fixed regression problem.
    g = torch.Generator().manual_seed(1234 + rank)
    x = torch.randn(64, 8, generator=g)
    y = x.sum(dim=1, keepdim=True)
    for step in range(args.steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        loss.backward()
        opt.step()
        if step % 5 == 0 or step == args.steps - 1:
            # One write per line, so lines of different ranks never interleave.
            sys.stdout.write(f"[rank {rank}/{world}] step {step:3d} loss {loss.item():.4f}\n")

    # DDP keeps replicas identical: check it with an all_reduce.
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    total = flat.clone()
    dist.all_reduce(total)
    same = torch.allclose(total / world, flat, atol=1e-6)
    if rank == 0:
        sys.stdout.write(f"world_size={world} replicas_identical={same}\n")
    dist.destroy_process_group()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
