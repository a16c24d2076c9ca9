"""Worker for gpu_checks.py: one NCCL all_reduce and all_gather on the GPU, torch alone.

Prints one JSON line: rank, world size, backend, the reduced sum and the gathered ranks.
"""
import json
import os

import torch
import torch.distributed as dist

local_rank = int(os.environ["LOCAL_RANK"])
torch.cuda.set_device(local_rank)
dist.init_process_group("nccl")
rank, world = dist.get_rank(), dist.get_world_size()
x = torch.tensor([rank + 1.0], device="cuda")
dist.all_reduce(x)
parts = [torch.zeros(1, device="cuda") for _ in range(world)]
dist.all_gather(parts, torch.tensor([float(rank)], device="cuda"))
print(json.dumps({"rank": rank, "world": world, "backend": dist.get_backend(), "sum": x.item(),
                  "gathered": [p.item() for p in parts], "device": torch.cuda.get_device_name()}), flush=True)
dist.destroy_process_group()
