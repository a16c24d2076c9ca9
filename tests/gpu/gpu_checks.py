"""Checks that need an NVIDIA GPU, run by hand on a GPU machine (CI has none; see README.md).

Each section prints PASS / FAIL / INFO lines and adds its raw findings to one JSON report.
Sections:
  visible   our GPU count (NVML through dlopen) against the CUDA runtime's
            (torch.cuda.device_count() in a fresh process) for many CUDA_VISIBLE_DEVICES values
  default   `accelerate config default` on a GPU machine: ours against upstream's file
  workers   each worker's argv and environment, ours against upstream's launcher
  train     the real upstream Accelerator trains on the GPU (bf16, fp16, NCCL) under both
            launchers, reporting the same state; a torch-only NCCL all_reduce under ours
  memory    GPU memory is given back: a rank fails, the launcher is SIGKILLed, Ctrl-C;
            upstream's launcher SIGKILLed for comparison

Usage: python3 tests/gpu/gpu_checks.py --launcher build/accelerate --upstream "$(command -v accelerate)"
       [--out DIR] [--only visible,default,...]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
SHIMS = os.path.join(os.path.dirname(HERE), "e2e", "upstream_shims")
REPORT = {}
FAILED = []


def say(kind, text):
    print(f"{kind:<4} {text}", flush=True)
    if kind == "FAIL":
        FAILED.append(text)


def check(ok, text):
    say("PASS" if ok else "FAIL", text)
    return ok


def run(cmd, env=None, cwd=None, timeout=120):
    try:
        r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        return "timeout", e.stdout or "", e.stderr or ""
    except OSError as e:
        return "not run", "", str(e)


def base_env(tmp, **extra):
    """The caller's environment with an empty Hugging Face cache, so no config file is found."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("ACCELERATE_", "CUDA_VISIBLE", "OMP_NUM")):
            del env[k]
    env["HF_HOME"] = os.path.join(tmp, "hf")
    env["PWD"] = tmp  # every command runs there
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def env_seeing(tmp, visible):
    """base_env with CUDA_VISIBLE_DEVICES set to `visible` (left unset for None)."""
    env = base_env(tmp)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    return env


# --- visible: how many GPUs, under CUDA_VISIBLE_DEVICES ---------------------------------------


def gpu_uuids():
    rc, out, _ = run(["nvidia-smi", "--query-gpu=uuid", "--format=csv,noheader"])
    return [line.strip() for line in out.splitlines() if line.strip()] if rc == 0 else []


def torch_count(env):
    rc, out, err = run([sys.executable, "-c", "import torch; print(torch.cuda.device_count())"], env=env)
    return int(out.strip()) if rc == 0 and out.strip().isdigit() else f"error: {err.strip()[-200:]}"


def our_count(args, env, cwd):
    rc, out, err = run([args.launcher, "launch", "--dry_run", "x.py"], env=env, cwd=cwd)
    m = re.search(r"^\s*num_processes\s+(\d+)\s+\((\w+)\)", out, re.M)
    return int(m.group(1)) if m else f"no num_processes line (exit {rc}): {(out + err)[-200:]}"


def section_visible(args, tmp):
    uuids = gpu_uuids()
    say("INFO", f"GPUs (nvidia-smi): {uuids}")
    u = uuids[0] if uuids else "GPU-none"
    values = [None, "", "0", "1", "0,1", "1,0", "0,0", "0,1,0", "-1", "0,-1", "-0", " 0", "0 ", " 0 , 1", "00",
              "+0", "0x0", "0abc", "abc", "0,abc", "0,,1", ",0", u, u.upper(), u.lower(), " " + u, u + " ", u[:12],
              "GPU-", "GPU", "GPU-bogus", f"{u},0", f"0,{u}", f"{u},{u}", f"{u},{u[:12]}", f"{u},GPU-bogus",
              f"GPU-bogus,{u}", "MIG-bogus", "all", "none", "NoDevFiles"]
    open(os.path.join(tmp, "x.py"), "w").close()
    rows = []

    def one(value):
        env = env_seeing(tmp, value)
        return value, torch_count(env), our_count(args, env, tmp)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for value, theirs, ours in pool.map(one, values):
            rows.append({"CUDA_VISIBLE_DEVICES": value, "cuda_runtime": theirs, "ours": ours})
            check(theirs == ours, f"CUDA_VISIBLE_DEVICES={value!r}: CUDA runtime counts {theirs}, ours {ours}")
    REPORT["visible"] = rows


# --- default: `accelerate config default` ----------------------------------------------------


def read_yaml(path):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)


def section_default(args, tmp):
    found = {}
    for extra_args, visible in (([], None), (["--mixed_precision", "bf16"], None), ([], "")):
        what = " ".join(extra_args) + (f" CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "")
        env = env_seeing(tmp, visible)
        files = {}
        for who, exe in (("upstream", args.upstream), ("ours", args.launcher)):
            path = os.path.join(tmp, f"default-{who}-{len(found)}.yaml")
            rc, out, err = run([exe, "config", "default", "--config_file", path] + extra_args, env=env)
            files[who] = read_yaml(path) if rc == 0 and os.path.exists(path) else f"exit {rc}: {err[-300:]}"
        found[what or "(no flags)"] = files
        up, ours = files["upstream"], files["ours"]
        if isinstance(up, dict) and isinstance(ours, dict):
            diff = [f"{k}: upstream {up.get(k, '<absent>')!r}, ours {ours.get(k, '<absent>')!r}"
                    for k in sorted(set(up) | set(ours)) if up.get(k, "<absent>") != ours.get(k, "<absent>")]
        else:
            diff = [f"upstream {up}, ours {ours}"]
        check(not diff, f"config default {what or '(no flags)'}: same file (distributed_type "
              f"{ours.get('distributed_type') if isinstance(ours, dict) else '?'}, num_processes "
              f"{ours.get('num_processes') if isinstance(ours, dict) else '?'})" + "".join("\n       " + d for d in diff))
    REPORT["default"] = found


# --- workers: argv and environment of each worker, against upstream ---------------------------

DUMP = r'''
import json, os, sys
with open(os.path.join(os.environ["DUMP_DIR"], "w-%s-%d.json" % (os.environ.get("RANK", "x"), os.getpid())), "x") as f:
    json.dump({"argv": sys.argv, "exe": sys.executable, "env": dict(os.environ)}, f)
'''

WORKER_CASES = [
    ([], None),
    (["--mixed_precision", "bf16"], None),
    (["--mixed_precision", "fp16", "--dynamo_backend", "no"], None),
    (["--multi_gpu", "--num_processes", "1"], None),
    (["--multi_gpu", "--num_processes", "2"], None),
    (["--num_processes", "2"], None),
    (["--gpu_ids", "0"], None),
    (["--multi_gpu", "--num_processes", "1", "--gpu_ids", "all"], None),
    (["--cpu"], None),
    (["--use_fsdp", "--num_processes", "1"], None),
    (["--use_fsdp", "--num_processes", "2", "--fsdp_sharding_strategy", "FULL_SHARD"], None),
    ([], ""),
    ([], "0"),
    (["--config_file", "{default}"], None),
]

# Differ by design or by run: where upstream's own torchrun agent differs from ours.
RUN_SPECIFIC = {"TORCHELASTIC_ERROR_FILE", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_USE_AGENT_STORE", "DUMP_DIR",
                "_", "OLDPWD", "SHLVL"}


def dump_workers(cmd, env, cwd, outdir):
    os.makedirs(outdir)
    env = dict(env, DUMP_DIR=outdir)
    rc, out, err = run(cmd, env=env, cwd=cwd, timeout=180)
    dumps = {}
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name)) as f:
            d = json.load(f)
        dumps[d["env"].get("RANK", "x")] = d
    return rc, err, dumps


def section_workers(args, tmp):
    with open(os.path.join(tmp, "dump.py"), "w") as f:
        f.write(DUMP)
    default = os.path.join(tmp, "from-upstream-default.yaml")
    run([args.upstream, "config", "default", "--config_file", default], env=base_env(tmp))
    rows = []
    for i, (flags, visible) in enumerate(WORKER_CASES):
        flags = [a.replace("{default}", default) for a in flags]
        what = " ".join(flags) + (f" CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "")
        env = env_seeing(tmp, visible)
        res = {}
        for who, exe in (("upstream", args.upstream), ("ours", args.launcher)):
            res[who] = dump_workers([exe, "launch"] + flags + ["dump.py", "--x", "1"], env, tmp,
                                    os.path.join(tmp, f"dump{i}-{who}"))
        (urc, uerr, up), (orc, oerr, ours) = res["upstream"], res["ours"]
        diffs = []
        if urc != orc:
            diffs.append(f"exit: upstream {urc}, ours {orc}")
        if sorted(up) != sorted(ours):
            diffs.append(f"ranks: upstream {sorted(up)}, ours {sorted(ours)}")
        for rank in sorted(set(up) & set(ours)):
            a, b = up[rank], ours[rank]
            if a["argv"] != b["argv"]:
                diffs.append(f"rank {rank} argv: upstream {a['argv']}, ours {b['argv']}")
            if a["exe"] != b["exe"]:
                diffs.append(f"rank {rank} interpreter: upstream {a['exe']}, ours {b['exe']}")
            for k in sorted(set(a["env"]) | set(b["env"])):
                if k in RUN_SPECIFIC:
                    continue
                va, vb = a["env"].get(k, "<absent>"), b["env"].get(k, "<absent>")
                if va != vb:
                    diffs.append(f"rank {rank} {k}: upstream {va!r}, ours {vb!r}")
        rows.append({"case": what, "differences": diffs, "upstream_stderr": uerr[-1500:], "ours_stderr": oerr[-1500:]})
        check(not diffs, f"workers [{what}]: {len(up)} rank(s) under upstream, {len(ours)} under ours, same argv and "
              f"environment" + ("" if not diffs else ":\n       " + "\n       ".join(diffs)))
    REPORT["workers"] = rows


# --- train: the real Accelerator on the GPU ---------------------------------------------------

TRAIN_CASES = [
    [],
    ["--mixed_precision", "bf16"],
    ["--mixed_precision", "fp16"],
    # One GPU: `--multi_gpu` needs 2 processes, and NCCL refuses two ranks on one GPU; FSDP
    # with one process takes the torchrun path and initialises NCCL (world size 1).
    ["--use_fsdp", "--num_processes", "1", "--main_process_port", "29611"],
    ["--use_fsdp", "--num_processes", "1", "--mixed_precision", "bf16", "--main_process_port", "29612"],
]


def train_once(cmd, env, cwd, outdir):
    os.makedirs(outdir)
    rc, out, err = run(cmd, env=dict(env, ACC_STATE_DIR=outdir), cwd=cwd, timeout=180)
    states = {}
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name)) as f:
            states[name] = json.load(f)
    return rc, err[-800:], states


def section_train(args, tmp):
    shutil.copy(os.path.join(SHIMS, "train_state.py"), tmp)
    by = {}
    # One launcher at a time, its cases side by side (each multi-GPU case has its own port).
    for who, exe in (("upstream", args.upstream), ("ours", args.launcher)):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = pool.map(lambda i: train_once([exe, "launch"] + TRAIN_CASES[i] + ["train_state.py"],
                                                    base_env(tmp), tmp, os.path.join(tmp, f"t{i}-{who}")),
                               range(len(TRAIN_CASES)))
            for i, r in enumerate(results):
                by[(i, who)] = r
    rows = []
    for i, flags in enumerate(TRAIN_CASES):
        what = " ".join(flags) or "(no flags)"
        (urc, uerr, up), (orc, oerr, ours) = by[(i, "upstream")], by[(i, "ours")]
        ok = check(urc == 0 and orc == 0 and list(up) == list(ours) == ["rank0.json"],
                   f"train [{what}]: both exit 0 with one rank (upstream {urc}, ours {orc}; {oerr if orc else ''})")
        s_up, s_ours = up.get("rank0.json", {}), ours.get("rank0.json", {})
        diffs = []
        for k in sorted(set(s_up) | set(s_ours)):
            if k == "env":
                for v in sorted(set(s_up.get("env", {})) | set(s_ours.get("env", {}))):
                    a, b = s_up.get("env", {}).get(v), s_ours.get("env", {}).get(v)
                    if a != b:
                        diffs.append(f"env {v}: upstream {a!r}, ours {b!r}")
            elif s_up.get(k) != s_ours.get(k):
                diffs.append(f"{k}: upstream {s_up.get(k)!r}, ours {s_ours.get(k)!r}")
        if ok:
            check(not diffs, f"train [{what}]: same Accelerator state (" + ", ".join(
                f"{k}={s_ours.get(k)}" for k in ("distributed_type", "device", "mixed_precision", "output_dtype",
                                                  "backend", "gathered", "weight_sum")) + ")" +
                  ("" if not diffs else ":\n       " + "\n       ".join(diffs)))
        rows.append({"case": what, "upstream": s_up, "ours": s_ours, "differences": diffs,
                     "upstream_stderr": uerr, "ours_stderr": oerr})
    REPORT["train"] = rows

    shutil.copy(os.path.join(HERE, "nccl_allreduce.py"), tmp)
    rc, out, err = run([args.launcher, "launch", "--use_fsdp", "--num_processes", "1", "--main_process_port", "0",
                        "nccl_allreduce.py"], env=base_env(tmp, NCCL_DEBUG="INFO"), cwd=tmp, timeout=120)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    REPORT["nccl"] = {"exit": rc, "ranks": lines, "nccl_lines": [x for x in err.splitlines() if "NCCL INFO" in x][:12]}
    check(rc == 0 and len(lines) == 1 and lines[0]["backend"] == "nccl" and lines[0]["sum"] == 1.0,
          f"NCCL all_reduce + all_gather under ours: exit {rc}, {lines}; NCCL said: "
          f"{[x for x in err.splitlines() if 'NCCL version' in x][:1]}")
    # Two ranks on the one GPU: NCCL refuses them (or, if this NCCL allows it, they reduce).
    rc, out, err = run([args.launcher, "launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", "0",
                        "nccl_allreduce.py"], env=base_env(tmp), cwd=tmp, timeout=120)
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    REPORT["nccl_two_ranks"] = {"exit": rc, "ranks": lines, "stderr": err[-3000:]}
    if rc == 0:
        check(sorted(x["sum"] for x in lines) == [3.0, 3.0], f"NCCL, two ranks on one GPU: {lines}")
    else:
        say("INFO", f"NCCL, two ranks on one GPU: exit {rc}; our verdict: " +
            " | ".join(x for x in err.splitlines() if x.startswith("accelerate launch") or "rank" in x)[-900:])


# --- memory: GPU memory given back on every exit path -----------------------------------------


def gpu_used_mib():
    rc, out, _ = run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"])
    return int(out.split()[0]) if rc == 0 and out.split() else -1


def compute_pids():
    rc, out, _ = run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"])
    return sorted(int(x) for x in out.split() if x.strip().isdigit()) if rc == 0 else []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def start_hold(cmd, tmp, name, **extra):
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    env = base_env(tmp, HOLD_DIR=folder, **extra)
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    return proc, folder


def wait_ready(folder, n, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = []
        for r in range(n):
            try:
                with open(os.path.join(folder, f"ready-{r}")) as f:
                    pids.append(int(f.read()))
            except (OSError, ValueError):
                break
        if len(pids) == n:
            return pids
        time.sleep(0.02)
    return None


def wait_gone(pids, timeout):
    """Seconds until none of pids is alive and the GPU lists none of them; None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not any(alive(p) for p in pids) and not set(pids) & set(compute_pids()):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def section_memory(args, tmp):
    shutil.copy(os.path.join(HERE, "hold_gpu.py"), tmp)
    base = gpu_used_mib()
    rows = {"baseline_mib": base}
    def two(port):
        return ["--multi_gpu", "--num_processes", "2", "--main_process_port", str(port), "hold_gpu.py"]

    # 1. A rank fails: the launcher stops the other, exits with the rank's status, memory back.
    proc, folder = start_hold([args.launcher, "launch"] + two(29621), tmp, "fail", HOLD_FAIL_RANK="1")
    pids = wait_ready(folder, 2)
    held = gpu_used_mib()
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rc = "timeout"
    exited = time.time()
    with open(os.path.join(folder, "failed-at")) as f:
        failed_at = float(f.read())
    gone = wait_gone(pids or [], 10)
    stderr = proc.stderr.read()
    rows["rank_fails"] = {"exit": rc, "held_mib": held, "failure_to_exit_ms": (exited - failed_at) * 1e3,
                          "gone_after_exit_s": gone, "used_after_mib": gpu_used_mib(), "verdict": stderr[-1200:]}
    check(rc == 3 and gone is not None and gone < 1.0,
          f"memory: rank 1 fails (exit 3) with 2 x 2 GiB held ({held} MiB used, {base} before): launcher exit {rc} "
          f"{(exited - failed_at) * 1e3:.0f} ms after, every worker and its GPU memory gone "
          f"{'%.0f ms' % (gone * 1e3) if gone is not None else 'NOT within 10 s'} after that; "
          f"{gpu_used_mib()} MiB used now")
    say("INFO", "verdict: " + " | ".join(stderr.strip().splitlines()[-6:]))

    # 2. SIGKILL to the launcher: PR_SET_PDEATHSIG takes the workers, memory back within 1 s.
    for port, who, exe in ((29622, "ours", args.launcher), (29623, "upstream", args.upstream)):
        proc, folder = start_hold([exe, "launch"] + two(port), tmp, f"kill-{who}")
        pids = wait_ready(folder, 2)
        if not pids:
            check(False, f"memory: SIGKILL [{who}]: workers never became ready ({proc.stderr.read()[-400:]})")
            continue
        killed = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        gone = wait_gone(pids, 5)
        survivors = [p for p in pids if alive(p)]
        on_gpu = sorted(set(pids) & set(compute_pids()))
        used = gpu_used_mib()
        rows[f"launcher_sigkill_{who}"] = {"gone_s": gone, "survivors_after_5s": survivors, "on_gpu": on_gpu,
                                          "used_mib": used, "since_kill_s": time.monotonic() - killed}
        if who == "ours":
            check(gone is not None and gone < 1.0, f"memory: SIGKILL to our launcher: workers and their GPU memory "
                  f"gone in {'%.0f ms' % (gone * 1e3) if gone is not None else 'NOT 5 s'} ({used} MiB used after)")
        else:
            say("INFO", f"memory: SIGKILL to upstream's launcher: after 5 s {len(survivors)} of 2 workers still alive, "
                        f"{len(on_gpu)} still on the GPU, {used} MiB used (orphans)")
        for p in pids:  # upstream's orphans, or anything of ours that survived
            for kill in (lambda: os.killpg(os.getpgid(p), signal.SIGKILL), lambda: os.kill(p, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass
        wait_gone(pids, 10)

    # 3. Ctrl-C (SIGINT to the launcher's foreground process group, as a terminal sends it).
    proc, folder = start_hold([args.launcher, "launch"] + two(29624), tmp, "int")
    pids = wait_ready(folder, 2)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        rc = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rc = "timeout"
    took = time.monotonic() - sent
    gone = wait_gone(pids or [], 5)
    rows["ctrl_c"] = {"exit": rc, "exit_after_s": took, "gone_s": gone, "used_mib": gpu_used_mib()}
    check(rc == 130 and gone is not None and gone < 1.0,
          f"memory: Ctrl-C: launcher exit {rc} after {took * 1e3:.0f} ms, workers and GPU memory gone "
          f"{'%.0f ms' % (gone * 1e3) if gone is not None else 'NOT within 5 s'} later, {gpu_used_mib()} MiB used")
    REPORT["memory"] = rows


# The ones only a GPU can answer first: a machine's lease may end before the last.
SECTIONS = {"memory": section_memory, "train": section_train, "visible": section_visible,
            "workers": section_workers, "default": section_default}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--launcher", required=True, help="our accelerate binary")
    p.add_argument("--upstream", required=True, help="upstream's `accelerate` executable")
    p.add_argument("--out", default=".", help="folder for gpu_checks.json")
    p.add_argument("--only", default=",".join(SECTIONS))
    args = p.parse_args()
    args.launcher = os.path.abspath(args.launcher)
    for name in args.only.split(","):
        tmp = tempfile.mkdtemp(prefix=f"gpu_{name}_")
        start = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            SECTIONS[name](args, tmp)
        except Exception as e:  # one broken section must not hide the others' results
            say("FAIL", f"section {name} broke: {type(e).__name__}: {e}")
        say("INFO", f"section {name}: {time.monotonic() - start:.1f} s")
        with open(os.path.join(args.out, "gpu_checks.json"), "w") as f:
            json.dump(REPORT, f, indent=1, default=str)
    print(f"{len(FAILED)} failed", flush=True)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
