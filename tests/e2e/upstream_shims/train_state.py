"""A small training run with the real upstream `Accelerator`; each rank writes what it reports.

Used by test_upstream_accelerator.py under both launchers (as a script and with `-m`).
Each rank writes `rank<N>.json` into $ACC_STATE_DIR (its own file, so ranks' output cannot
interleave), created exclusively: two processes claiming the same rank fail.
"""
import json
import os
import sys

import torch

# Debian 12's torch 1.13 predates torch.cpu.device_count / torch.cpu.set_device, which
# upstream's PartialState calls on CPU; supply the single-device answers torch 2.x gives.
if not hasattr(torch.cpu, "device_count"):
    torch.cpu.device_count = lambda: 1
if not hasattr(torch.cpu, "set_device"):
    torch.cpu.set_device = lambda device: None

from accelerate import Accelerator  # noqa: E402  (after the patch above)

torch.manual_seed(0)
acc = Accelerator()
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
loader = torch.utils.data.DataLoader(data, batch_size=4)
model, opt, loader = acc.prepare(model, opt, loader)
steps = 0
out_dtype = None
for x, y in loader:
    with acc.accumulate(model):
        pred = model(x)
        out_dtype = str(pred.dtype)  # bf16/fp16 when prepare() wrapped forward in autocast
        loss = torch.nn.functional.mse_loss(pred.float(), y)
        acc.backward(loss)
        opt.step()
        opt.zero_grad()
        steps += 1
# (No acc.wait_for_everyone(): with torch 1.13 its barrier(device_ids=...) is refused on gloo.)
gathered = acc.gather(torch.tensor([acc.process_index], device=acc.device))
state = acc.state
weights = acc.unwrap_model(model).weight.detach().float()
out = dict(
    rank=acc.process_index,
    local_rank=acc.local_process_index,
    num_processes=acc.num_processes,
    is_main=acc.is_main_process,
    distributed_type=str(state.distributed_type),
    use_distributed=acc.use_distributed,
    mixed_precision=str(acc.mixed_precision),
    native_amp=acc.native_amp,
    device=str(acc.device),
    batches=len(loader),
    steps=steps,
    gathered=gathered.tolist(),
    gradient_accumulation_steps=acc.gradient_accumulation_steps,
    debug=state.debug,
    torch_threads=torch.get_num_threads(),
    dynamo_backend=str(state.dynamo_plugin.backend),
    backend=torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
    output_dtype=out_dtype,
    weight_sum=round(float(weights.sum()), 5),
    argv=sys.argv[1:],
    env={k: v for k, v in sorted(os.environ.items())
         if k.startswith(("ACCELERATE_", "FSDP_", "OMP_", "WORLD_SIZE", "RANK", "LOCAL_", "MASTER_ADDR"))},
)
with open(os.path.join(os.environ["ACC_STATE_DIR"], f"rank{acc.process_index}.json"), "x") as f:
    json.dump(out, f, sort_keys=True)
