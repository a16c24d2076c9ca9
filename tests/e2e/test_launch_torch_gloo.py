"""Real gloo all_reduce jobs with Debian's torch through `accelerate launch --cpu --num_processes N`."""
import os
import re

from lib import (SOURCE_DIR, TempDir, check, clean_env, finish, has_torch, launch, skip)

WORKER = r'''
import os, sys
import torch
import torch.distributed as dist
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
assert rank == int(os.environ["RANK"]) and world == int(os.environ["WORLD_SIZE"])
assert os.environ["ACCELERATE_USE_CPU"] == "True"
t = torch.tensor([float(rank + 1)])
dist.all_reduce(t)
dist.barrier()
sys.stdout.write(f"rank {rank}/{world} sum {t.item():.0f} local_rank {os.environ['LOCAL_RANK']}\n")
dist.destroy_process_group()
'''

if not has_torch():
    skip("no torch for the test Python")

with TempDir() as tmp:
    script = os.path.join(tmp, "allreduce.py")
    with open(script, "w") as f:
        f.write(WORKER)
    env = clean_env(tmp)
    for n in (2, 4):
        r = launch(["--cpu", "--num_processes", str(n), "--main_process_port", "0", script], cwd=tmp, env=env)
        check(r.returncode == 0, f"N={n}: launcher exits 0 (got {r.returncode}; stderr tail {r.stderr[-400:]!r})")
        sums = re.findall(r"rank (\d+)/(\d+) sum (\d+)", r.stdout)
        expected = n * (n + 1) // 2
        check(sorted(int(s[0]) for s in sums) == list(range(n)), f"N={n}: every rank reported ({len(sums)} lines)")
        check(all(int(s[1]) == n and int(s[2]) == expected for s in sums), f"N={n}: all_reduce sum is {expected}")

    # The README's main job: the DDP example, 2 CPU processes, each rank printing its loss.
    example = os.path.join(SOURCE_DIR, "examples", "train_ddp.py")
    r = launch(["--cpu", "--num_processes", "2", "--main_process_port", "0", example, "--steps", "6"], cwd=tmp,
               env=env)
    check(r.returncode == 0, f"example: exit 0 (got {r.returncode}; {r.stderr[-400:]!r})")
    check(len(re.findall(r"\[rank 0/2\] step .* loss", r.stdout)) >= 2 and
          len(re.findall(r"\[rank 1/2\] step .* loss", r.stdout)) >= 2, "example: both ranks print their loss")
    check("replicas_identical=True" in r.stdout, "example: DDP replicas identical after training")

    # A default config written as `accelerate config` would for multi-CPU.
    os.makedirs(os.path.join(tmp, "hf", "accelerate"))
    with open(os.path.join(tmp, "hf", "accelerate", "default_config.yaml"), "w") as f:
        f.write("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_CPU\nmixed_precision: 'no'\n"
                "num_machines: 1\nnum_processes: 3\nuse_cpu: true\nmain_process_port: 0\n")
    r = launch([script], cwd=tmp, env=env)
    check(r.returncode == 0, f"MULTI_CPU default config: exit 0 (got {r.returncode}; {r.stderr[-400:]!r})")
    check(len(re.findall(r"sum 6 ", r.stdout)) == 3, "MULTI_CPU default config: 3 ranks all_reduce to 6")
    check("were not passed" not in r.stderr, "no defaults warning when a config supplies the values")

finish()
