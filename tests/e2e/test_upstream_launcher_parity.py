"""Upstream's own `accelerate launch` and ours start the same workers, side by side.

Opt-in, as test_upstream_accelerator.py: upstream's Python package is not packaged for
Debian 12, so the test runs only when ACC_UPSTREAM_SRC names a checkout's `src` folder
(ACC_UPSTREAM_SRC/accelerate/__init__.py), and needs torch and `packaging`.

Each case of upstream_parity_cases.json (flags of the simple and the torchrun paths, FSDP,
Megatron-LM, DeepSpeed, dynamo, fp8, config files and flags over them, inherited variables
in both spellings and orders, `--`, use_cpu spellings, several machines, mpirun) is launched
twice, in a fresh folder each time: by upstream's launcher
(upstream_shims/parity_upstream_launch.py runs `accelerate.commands.launch`) and by ours,
with the same arguments, the same environment in the same order, the same default config
and files. Every worker is upstream_shims/parity_worker.py, which records how it was started.
Compared, per case: both exit 0; the number of workers; each worker's argv, interpreter argv
(flags such as -u), executable and working directory; each worker's environment delta (the
variables added, changed or removed against the launcher's environment), every variable;
and what a fake mpirun was given. Run-specific values are normalised first: the case folder
(-> {CASE}), the port the test picked (-> {PORT}), a port the launcher picked for
`--main_process_port 0`, the random parts of TORCHELASTIC_ERROR_FILE, and torch 1.13's
NCCL_ASYNC_ERROR_HANDLING, which newer torch (what our launcher follows) names
TORCH_NCCL_ASYNC_ERROR_HANDLING. Cases marked `documented` assert a deliberate difference
of docs/DIFFERENCES.md explicitly instead.

Ports: each launch gets a free port the test picks (`--main_process_port {PORT}` or
`main_process_port: {PORT}` in the case), so launches can run side by side and a process
holding 29500 changes nothing. The cases for the default port (`netns`) run in a network
namespace of their own (`unshare -n`), and are left out, with a line, where that is refused.

ACC_PARITY_CASES=name,name runs only those cases; ACC_PARITY_RECORD=file.json writes every
normalised run there, to read them side by side.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import upstream
from lib import ACCELERATE, PYTHON, TempDir, check, finish

HERE = os.path.dirname(os.path.abspath(__file__))
SHIMS = upstream.SHIMS
CASES = os.path.join(HERE, "upstream_parity_cases.json")
LAUNCH_TIMEOUT = 90
PARALLEL = 2  # launches at a time (a case on several machines is one launch of several launchers)

upstream_src = upstream.source_or_skip("upstream's Python launcher")


def torch_names_nccl_variable_old():
    """True where torchrun's agent sets NCCL_ASYNC_ERROR_HANDLING (older torch, such as Debian's 1.13), not
    TORCH_NCCL_ASYNC_ERROR_HANDLING."""
    code = ("import inspect, torch.distributed.elastic.agent.server.local_elastic_agent as m; "
            "print('TORCH_NCCL_ASYNC_ERROR_HANDLING' in inspect.getsource(m))")
    r = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True)
    return r.stdout.strip() == "False"


def netns_prefix():
    """A command prefix that runs a launch in a network namespace of its own with loopback up, or None."""
    for unshare in (["unshare", "-n"], ["unshare", "-r", "-n"]):
        prefix = unshare + ["sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
        try:
            if subprocess.run(prefix + ["true"], capture_output=True, timeout=20).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RANDOM_PARTS = [(re.compile(r"/torchelastic_[^/]+/"), "/torchelastic_X/"),      # mkdtemp's folder
                (re.compile(r"/[^/]+_[^/]+/attempt_(\d+)/"), r"/RUN_X/attempt_\1/")]  # <run_id>_<random>


def env_delta(worker_env, launcher_env):
    delta = {k: v for k, v in worker_env.items() if launcher_env.get(k) != v}
    delta.update({k: "<removed>" for k in launcher_env if k not in worker_env})
    return delta


def normalise(record, run, which, launcher_env):
    """One worker's record, with the run's own values replaced (see the module's docstring)."""
    base, port = run["base"], run["port"]
    env = dict(record["env"])
    # Started by torchrun's agent: it set these (an inherited copy alone says nothing).
    by_agent = any(k in env and env[k] != launcher_env.get(k)
                   for k in ("TORCHELASTIC_RUN_ID", "TORCHELASTIC_MAX_RESTARTS", "LOCAL_RANK"))
    if which != "ours" and OLD_NCCL_NAME and by_agent:
        # torch 1.13's agent sets NCCL_ASYNC_ERROR_HANDLING=${NCCL_ASYNC_ERROR_HANDLING:-1}; newer torch leaves it and
        # sets TORCH_NCCL_ASYNC_ERROR_HANDLING=${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}: put the newer one in its place.
        if "NCCL_ASYNC_ERROR_HANDLING" not in launcher_env:
            env.pop("NCCL_ASYNC_ERROR_HANDLING", None)
        env["TORCH_NCCL_ASYNC_ERROR_HANDLING"] = launcher_env.get("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    delta = {k: v.replace(base, "{CASE}") for k, v in env_delta(env, launcher_env).items()}
    if "MASTER_PORT" in delta:
        if delta["MASTER_PORT"] == str(port):
            delta["MASTER_PORT"] = "{PORT}"
        elif run["case"].get("random_port") and delta["MASTER_PORT"].isdigit() and \
                0 < int(delta["MASTER_PORT"]) < 65536:
            delta["MASTER_PORT"] = "<a free port>"  # the same for every worker: checked in compare()
            run["random_ports"].add(env["MASTER_PORT"])
    if "TORCHELASTIC_ERROR_FILE" in delta:
        for pattern, repl in RANDOM_PARTS:
            delta["TORCHELASTIC_ERROR_FILE"] = pattern.sub(repl, delta["TORCHELASTIC_ERROR_FILE"])
    return {"argv": [a.replace(base, "{CASE}") for a in record["argv"]],
            "orig_argv": [a.replace(base, "{CASE}") for a in record["orig_argv"] or []],
            "exe": record["exe"], "cwd": record["cwd"].replace(base, "{CASE}"), "env": delta}


def rank_key(worker):
    env = worker["env"]
    return (int(env.get("RANK", "0") or 0), int(env.get("LOCAL_RANK", "0") or 0))


def launch(case, which, tmp, overrides=None):
    """Launches one case with one launcher (which: upstream, ours, or upstream-ref with overrides)."""
    case = dict(case, **(overrides or {}))
    base = tempfile.mkdtemp(prefix=f"{which}-", dir=tmp)
    port = free_port()

    def subst(text):
        return text.replace("{CASE}", base).replace("{PORT}", str(port))

    for sub in ("hf/accelerate", "home", "tmp"):
        os.makedirs(os.path.join(base, sub))
    worker = os.path.join(SHIMS, "parity_worker.py")
    shutil.copy(worker, os.path.join(base, "dump_env.py"))
    shutil.copy(worker, os.path.join(base, "dump_mod.py"))
    with open(worker) as src, open(os.path.join(base, "dump_exe"), "w") as dst:
        dst.write(f"#!{PYTHON}\n" + src.read())
    os.chmod(os.path.join(base, "dump_exe"), 0o755)
    for name, text in case.get("files", {}).items():
        os.makedirs(os.path.dirname(os.path.join(base, name)), exist_ok=True)
        with open(os.path.join(base, name), "w") as f:
            f.write(subst(text))
    if "config" in case:
        with open(os.path.join(base, "hf", "accelerate", "default_config.yaml"), "w") as f:
            f.write(subst(case["config"]))
    path = os.path.dirname(PYTHON) + ":/usr/local/bin:/usr/bin:/bin"
    if case.get("mpirun"):
        mpi_dir = os.path.join(base, "mpi_" + case["mpirun"])
        os.makedirs(mpi_dir)
        with open(os.path.join(SHIMS, "parity_fake_mpirun.py")) as src, \
                open(os.path.join(mpi_dir, "mpirun"), "w") as dst:
            dst.write(f"#!{PYTHON}\n" + src.read())
        os.chmod(os.path.join(mpi_dir, "mpirun"), 0o755)
        path = mpi_dir + ":" + path
    # The launcher's environment, in this order, then the case's own variables in the case's order.
    env = {"PATH": path, "HOME": os.path.join(base, "home"), "HF_HOME": os.path.join(base, "hf"), "LANG": "C.UTF-8",
           "PYTHON_EXEC": PYTHON, "TMPDIR": os.path.join(base, "tmp")}
    for k, v in case.get("env", {}).items():
        env[k] = subst(v)
    for k in case.get("unset", []):
        env.pop(k, None)

    if which == "ours":
        cmd = [ACCELERATE, "launch"]
    else:
        paths = [upstream_src] + HUB_STAND_INS + ([DS_STAND_INS] if case.get("stand_ins") else [])
        cmd = [PYTHON, os.path.join(SHIMS, "parity_upstream_launch.py"), ":".join(paths), "--"]
    prefix = NETNS if case.get("netns") else []
    procs = []
    for i, args in enumerate(case.get("nodes") or [case["args"]]):  # one launcher for each machine
        dumps = os.path.join(base, "dumps", str(i))
        os.makedirs(dumps)
        node_env = dict(env, PARITY_DUMP_DIR=dumps)
        procs.append((dumps, node_env, subprocess.Popen(prefix + cmd + [subst(a) for a in args], cwd=base,
                                                        env=node_env, stdin=subprocess.DEVNULL,
                                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                        start_new_session=True)))
    run = {"case": case, "base": base, "port": port, "env": env, "random_ports": set(), "rc": [], "stderr": [],
           "workers": [], "mpirun": None}
    for _, _, p in procs:
        try:
            _, err = p.communicate(timeout=LAUNCH_TIMEOUT)
            run["rc"].append(p.returncode)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            _, err = p.communicate()
            run["rc"].append("timeout")
        run["stderr"].append(err.replace(base, "{CASE}")[-1500:])
    for dumps, node_env, _ in procs:
        node = []
        for name in sorted(os.listdir(dumps)):
            with open(os.path.join(dumps, name)) as f:
                text = f.read()
            if name == "mpirun.json":
                run["mpirun"] = [a.replace(base, "{CASE}") for a in json.loads(text)]
                continue
            try:
                node.append(normalise(json.loads(text), run, which, node_env))
            except ValueError:
                node.append({"unreadable": text[:300]})
        run["workers"] += sorted(node, key=lambda w: rank_key(w) if "env" in w else (0, 0))
    run["env"] = {k: v.replace(base, "{CASE}") for k, v in env.items()}
    shutil.rmtree(base, ignore_errors=True)
    return run


def compare(up, ours):
    """Differences between two runs' normalised workers, as readable lines."""
    lines = []
    if up["mpirun"] != ours["mpirun"]:
        lines.append(f"mpirun argv: upstream {up['mpirun']}, ours {ours['mpirun']}")
    if len(up["workers"]) != len(ours["workers"]):
        lines.append(f"workers: upstream {len(up['workers'])}, ours {len(ours['workers'])}")
    for i, (a, b) in enumerate(zip(up["workers"], ours["workers"])):
        for key in ("argv", "orig_argv", "exe", "cwd", "unreadable"):
            if a.get(key) != b.get(key):
                lines.append(f"worker {i} {key}: upstream {a.get(key)!r}, ours {b.get(key)!r}")
        ea, eb = a.get("env", {}), b.get("env", {})
        for k in sorted(set(ea) | set(eb)):
            if ea.get(k) != eb.get(k):
                lines.append(f"worker {i} env {k}: upstream {ea.get(k, '<not changed>')!r}, "
                             f"ours {eb.get(k, '<not changed>')!r}")
    for run, who in ((up, "upstream"), (ours, "ours")):
        if len(run["random_ports"]) > 1:
            lines.append(f"{who}: the workers got different ports {sorted(run['random_ports'])}")
    return lines


def show(run, who):
    """Both outputs of a failing case, for the report."""
    print(f"       {who}: exit {run['rc']}, {len(run['workers'])} worker(s), mpirun {run['mpirun']}", flush=True)
    for i, w in enumerate(run["workers"]):
        print(f"         worker {i}: " + json.dumps(w, ensure_ascii=False, sort_keys=True), flush=True)
    for err in run["stderr"]:
        tail = [line for line in err.splitlines() if line.strip()][-6:]
        for line in tail:
            print(f"         stderr| {line}", flush=True)


def exits(run, expected):
    if expected == "nonzero":
        return all(rc not in (0, "timeout") for rc in run["rc"])
    return all(rc == expected for rc in run["rc"])


def check_documented(case, runs):
    """A deliberate difference (docs/DIFFERENCES.md), asserted as documented."""
    doc, up, ours = case["documented"], runs["upstream"], runs["ours"]
    name = case["name"]
    ok = exits(up, doc["upstream_exit"]) and len(up["workers"]) == doc["upstream_workers"]
    check(ok, f"[{name}] upstream: exit {doc['upstream_exit']}, {doc['upstream_workers']} worker(s)"
          + ("" if ok else f" (exit {up['rc']}, {len(up['workers'])})"))
    if not ok:
        show(up, "upstream")
    if "ours_as_upstream_with" in doc:
        # Ours starts what upstream starts once the refused condition is lifted.
        ref = runs["upstream-ref"]
        diff = compare(ref, ours)
        if not (exits(ref, 0) and exits(ours, 0) and ref["workers"]):
            diff.insert(0, f"exit: upstream {ref['rc']} with {len(ref['workers'])} worker(s), ours {ours['rc']} "
                           "(both should exit 0, with workers)")
        ok = not diff
        what = ", ".join(f"{k}={v}" for k, v in doc["ours_as_upstream_with"].items())
        check(ok, f"[{name}] ours: the workers upstream starts with {what}; {doc['why']}")
    else:
        # Ours: every rank is upstream's one process with the listed additions.
        spec = doc["ours_each_worker_is_upstreams_with"]
        diff = []
        if not exits(ours, 0) or len(ours["workers"]) != doc["ours_workers"] or not up["workers"]:
            diff.append(f"ours: exit {ours['rc']}, {len(ours['workers'])} worker(s), expected exit 0 and "
                        f"{doc['ours_workers']}")
        else:
            for rank, got in enumerate(ours["workers"]):
                want = json.loads(json.dumps(up["workers"][0]))
                want["orig_argv"][1:1] = spec["interpreter_flags"]
                want["env"].update({k: v.replace("{RANK}", str(rank)) for k, v in spec["env"].items()})
                diff += [f"rank {rank}, against upstream's one worker with the additions: "
                         + line.replace("worker 0 ", "")
                         for line in compare({"workers": [want], "mpirun": None, "random_ports": set()},
                                             {"workers": [got], "mpirun": None, "random_ports": set()})]
        ok = not diff
        check(ok, f"[{name}] ours: {doc['ours_workers']} workers, each upstream's one with "
                  f"{' '.join(spec['interpreter_flags'])} and the per-rank variables; {doc['why']}")
    for line in diff:
        print(f"       [{name}] {line}", flush=True)
    if diff:
        show(runs.get("upstream-ref", up), "upstream")
        show(ours, "ours")


with open(CASES) as f:
    cases = json.load(f)
only = [n for n in os.environ.get("ACC_PARITY_CASES", "").split(",") if n]  # to rerun some cases by name
if only:
    unknown = set(only) - {c["name"] for c in cases}
    check(not unknown, f"ACC_PARITY_CASES names known cases ({sorted(unknown)} unknown)" if unknown else
          "ACC_PARITY_CASES names known cases")
    cases = [c for c in cases if c["name"] in only]
OLD_NCCL_NAME = torch_names_nccl_variable_old()
NETNS = netns_prefix()

with TempDir() as tmp:
    # huggingface_hub and safetensors stand-ins for upstream's launcher, only where the real ones are missing.
    HUB_STAND_INS = upstream.hub_stand_ins(os.path.join(tmp, "hub_stand_ins"))
    DS_STAND_INS = os.path.join(tmp, "parity_stand_ins")  # deepspeed, torchao: a copy, so no bytecode lands in the tree
    shutil.copytree(os.path.join(SHIMS, "parity_stand_ins"), DS_STAND_INS)
    r = subprocess.run([PYTHON, "-c", "import sys; sys.path[0:0] = sys.argv[1].split(':'); "
                        "import accelerate.commands.launch", ":".join([upstream_src] + HUB_STAND_INS)],
                       cwd=tmp, capture_output=True, text=True)
    check(r.returncode == 0, f"upstream accelerate's launcher imports from {upstream_src}" +
          ("" if r.returncode == 0 else f" ({r.stderr[-400:]!r})"))
    if r.returncode != 0:
        finish()

    jobs = []
    for case in cases:
        if case.get("netns") and NETNS is None:
            print(f"     [{case['name']}] left out: it needs the default port free, in a network namespace of its "
                  "own, and `unshare -n` (or `unshare -r -n`) is refused here", flush=True)
            continue
        jobs += [(case, "upstream", None), (case, "ours", None)]
        if "ours_as_upstream_with" in case.get("documented", {}):
            jobs.append((case, "upstream-ref", case["documented"]["ours_as_upstream_with"]))
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = list(pool.map(lambda job: launch(job[0], job[1], tmp, job[2]), jobs))
    elapsed = time.monotonic() - start
    by_case = {}
    for (case, which, _), run in zip(jobs, results):
        by_case.setdefault(case["name"], {})[which] = run
    if os.environ.get("ACC_PARITY_RECORD"):  # every normalised run, to read them side by side
        with open(os.environ["ACC_PARITY_RECORD"], "w") as f:
            json.dump({name: {who: dict(run, case=None, random_ports=sorted(run["random_ports"]))
                              for who, run in runs.items()} for name, runs in by_case.items()}, f, indent=1)

    areas = {}
    for case in cases:
        name = case["name"]
        if name not in by_case:
            continue
        runs = by_case[name]
        areas[case["area"]] = areas.get(case["area"], 0) + 1
        if "documented" in case:
            check_documented(case, runs)
            continue
        up, ours = runs["upstream"], runs["ours"]
        diff = compare(up, ours)
        if not (exits(up, 0) and exits(ours, 0)):
            diff.insert(0, f"exit: upstream {up['rc']}, ours {ours['rc']} (both should exit 0)")
        if not up["workers"]:
            diff.insert(0, "upstream started no worker")
        for line in diff:
            print(f"       [{name}] {line}", flush=True)
        if diff:
            show(up, "upstream")
            show(ours, "ours")
        nvars = len(up["workers"][0]["env"]) if up["workers"] else 0
        check(not diff, f"[{name}] same workers ({len(up['workers'])}; argv, interpreter, cwd, {nvars} variables "
                        f"set for worker 0" + ("; mpirun argv" if up["mpirun"] else "") + ")")
    print(f"     {len(by_case)} cases ({', '.join(f'{a} {n}' for a, n in areas.items())}), {len(jobs)} launches "
          f"in {elapsed:.1f} s, {PARALLEL} at a time", flush=True)

finish()
