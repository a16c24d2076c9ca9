"""The real upstream `Accelerator` reports the same state under our launcher as under upstream's.

Opt-in: upstream's Python package is not packaged for Debian 12, so the test runs only when
ACC_UPSTREAM_SRC names a checkout's `src` folder (ACC_UPSTREAM_SRC/accelerate/__init__.py).
Each scenario runs upstream_shims/train_state.py (a one-epoch training run with the real
Accelerator) under `python3 -m accelerate.commands.launch ARGS` and `accelerate launch ARGS`;
every rank writes what its Accelerator reports to its own JSON file, and the two launchers'
files must match field for field. One more scenario checks our deliberate difference: native
multi-CPU (`--cpu --num_processes 2`) starts both ranks, which form one gloo group.
"""
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import upstream
from lib import ACCELERATE, PYTHON, TempDir, check, clean_env, finish


CONFIG = ("compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nuse_cpu: true\nmixed_precision: bf16\n"
          "num_processes: 1\nnum_machines: 1\nmachine_rank: 0\ndebug: true\n")

# Single-process jobs (upstream starts one process for each), compared field for field.
SCENARIOS = [
    ["--cpu", "train_state.py", "a", "b"],
    ["--cpu", "--mixed_precision", "bf16", "train_state.py"],
    ["--cpu", "--mixed_precision", "fp16", "train_state.py"],
    ["--cpu", "--gradient_accumulation_steps", "4", "train_state.py"],  # upstream passes it on for DeepSpeed only
    ["--cpu", "--debug", "train_state.py"],
    ["--cpu", "--num_cpu_threads_per_process", "3", "train_state.py"],
    ["--num_processes", "1", "train_state.py"],
    ["--cpu", "-m", "train_state", "x"],
    ["--config_file", "cfg.yaml", "train_state.py", "--lr", "1"],
]

upstream_src = upstream.source_or_skip("upstream's Python Accelerator")


def run_launcher(cmd, cwd, env, outdir):
    """Runs one launch; returns (exit status, stderr tail, {rank: state})."""
    os.makedirs(outdir)
    env = dict(env, ACC_STATE_DIR=outdir)
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        rc, tail = r.returncode, r.stderr[-600:]
    except subprocess.TimeoutExpired as e:
        err = e.stderr or b""
        rc, tail = "timeout", (err.decode(errors="replace") if isinstance(err, bytes) else err)[-600:]
    states = {}
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name)) as f:
            text = f.read()
        try:
            states[name] = json.loads(text)
        except ValueError:
            states[name] = {"unreadable": text[:200]}
    return rc, tail, states


def differences(up, ours):
    """Field-by-field differences between two {rank file: state} maps, as readable lines."""
    lines = []
    for name in sorted(set(up) | set(ours)):
        if name not in up or name not in ours:
            lines.append(f"{name}: only under {'upstream' if name in up else 'ours'}")
            continue
        flat = []
        for state in (up[name], ours[name]):
            fields = {k: v for k, v in state.items() if k != "env"}
            fields.update({"env " + k: v for k, v in state.get("env", {}).items()})  # each variable on its own
            flat.append(fields)
        for key in sorted(set(flat[0]) | set(flat[1])):
            a, b = flat[0].get(key, "<absent>"), flat[1].get(key, "<absent>")
            if a != b:
                lines.append(f"{name} {key}: upstream {a!r}, ours {b!r}")
    return lines


with TempDir() as tmp:
    shutil.copy(os.path.join(upstream.SHIMS, "train_state.py"), tmp)
    with open(os.path.join(tmp, "cfg.yaml"), "w") as f:
        f.write(CONFIG)
    # Stand-ins only for the packages the test Python lacks (Debian 12 has neither).
    path = [upstream_src] + upstream.hub_stand_ins(os.path.join(tmp, "stand_ins"))
    env = clean_env(tmp, PYTHONPATH=":".join(path))
    r = subprocess.run([PYTHON, "-c", "import accelerate.commands.launch, accelerate"], cwd=tmp, env=env,
                       capture_output=True, text=True)
    check(r.returncode == 0, f"upstream accelerate imports from {upstream_src}" +
          ("" if r.returncode == 0 else f" ({r.stderr[-400:]!r})"))
    if r.returncode != 0:
        finish()

    jobs = []
    for i, args in enumerate(SCENARIOS):
        jobs.append((i, "upstream", [PYTHON, "-m", "accelerate.commands.launch"] + args))
        jobs.append((i, "ours", [ACCELERATE, "launch"] + args))
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda j: run_launcher(j[2], tmp, env, os.path.join(tmp, f"out{j[0]}-{j[1]}")),
                                jobs))
    by_job = {(j[0], j[1]): res for j, res in zip(jobs, results)}
    for i, args in enumerate(SCENARIOS):
        what = " ".join(args)
        (urc, utail, up), (orc, otail, ours) = by_job[(i, "upstream")], by_job[(i, "ours")]
        for who, rc, tail, states in (("upstream", urc, utail, up), ("ours", orc, otail, ours)):
            ok = rc == 0 and list(states) == ["rank0.json"]
            check(ok, f"[{what}] {who}: exit 0, one rank reported" +
                  ("" if ok else f" (exit {rc}, {list(states)}; {tail!r})"))
        diff = differences(up, ours)
        for line in diff:
            print(f"     [{what}] {line}", flush=True)
        check(bool(up) and not diff, f"[{what}] same Accelerator state under both launchers "
              f"({len(up.get('rank0.json', {}))} fields: " +
              ", ".join(f"{k}={up.get('rank0.json', {}).get(k)}" for k in
                        ("distributed_type", "mixed_precision", "gradient_accumulation_steps", "debug",
                         "torch_threads")) + ")")

    # Our deliberate difference (docs/DIFFERENCES.md): native multi-CPU starts every rank.
    rc, tail, states = run_launcher([ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port",
                                     "0", "train_state.py"], tmp, env, os.path.join(tmp, "out-multicpu"))
    ok = rc == 0 and sorted(states) == ["rank0.json", "rank1.json"]
    check(ok, "[multi-CPU, ours] exit 0, both ranks reported" +
          ("" if ok else f" (exit {rc}, {sorted(states)}; {tail!r})"))
    s = [states.get(f"rank{k}.json", {}) for k in (0, 1)]
    check(all(x.get("distributed_type") == "DistributedType.MULTI_CPU" and x.get("num_processes") == 2 for x in s),
          f"[multi-CPU, ours] both ranks: MULTI_CPU, num_processes 2 "
          f"({[(x.get('distributed_type'), x.get('num_processes')) for x in s]})")
    check([x.get("rank") for x in s] == [0, 1] and [x.get("local_rank") for x in s] == [0, 1],
          f"[multi-CPU, ours] distinct ranks 0 and 1 ({[(x.get('rank'), x.get('local_rank')) for x in s]})")
    check(all(x.get("gathered") == [0, 1] for x in s),
          f"[multi-CPU, ours] gather over gloo gives [0, 1] on both ranks ({[x.get('gathered') for x in s]})")
    check(all(x.get("batches") == 4 for x in s) and len({x.get("weight_sum") for x in s}) == 1,
          f"[multi-CPU, ours] the 8 batches split 4 per rank, replicas identical after training "
          f"({[(x.get('batches'), x.get('weight_sum')) for x in s]})")
    print(f"     {len(jobs) + 1} launches in {time.monotonic() - start:.1f} s", flush=True)

finish()
