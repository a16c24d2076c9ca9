"""Two-machine scenarios for the multi-machine tests: each machine is a launcher started
through `prefix` (nothing on loopback, `ip netns exec NS` for network namespaces)."""
import json
import os
import subprocess
import time

from lib import ACCELERATE, check, clean_env

WORKER = r'''
import json, os, sys, time
import torch
import torch.distributed as dist
dump = os.environ["DUMP_DIR"]
rank = os.environ["RANK"]
with open(os.path.join(dump, "env_%s.json" % rank), "w") as f:
    json.dump(dict(os.environ), f)
dist.init_process_group("gloo")
if rank == os.environ.get("FAIL_RANK"):
    with open(os.path.join(dump, "failed_at"), "w") as f:
        f.write(repr(time.time()))
    sys.stderr.write("rank 3 failing\n")
    sys.stderr.flush()
    os._exit(3)   # at once: no interpreter teardown (gloo's can take a while on a busy host)
t = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(t)
if os.environ.get("FAIL_RANK"):
    time.sleep(300)   # blocked, as a real job would be, until the launcher stops it
sys.stdout.write("rank %d/%d sum %d\n" % (dist.get_rank(), dist.get_world_size(), t.item()))  # one write: ranks never interleave
dist.destroy_process_group()
'''

# The torchrun variables conformance case multinode_2x2 records (upstream.json).
TORCHRUN_KEYS = ["RANK", "LOCAL_RANK", "GROUP_RANK", "ROLE_RANK", "ROLE_NAME", "LOCAL_WORLD_SIZE", "WORLD_SIZE",
                 "GROUP_WORLD_SIZE", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE",
                 "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS",
                 "TORCH_NCCL_ASYNC_ERROR_HANDLING", "OMP_NUM_THREADS", "ACCELERATE_MIXED_PRECISION"]


def upstream_multinode_2x2(source_dir):
    with open(os.path.join(source_dir, "tests", "conformance", "upstream.json")) as f:
        nodes = json.load(f)["multinode_2x2"]
    return [w["env"] for node in nodes for w in node["workers"]]


class Machine:
    def __init__(self, rank, prefix, tmp, ip, port, extra_env=None, extra_args=()):
        self.rank = rank
        self.dump = os.path.join(tmp, f"dump{rank}")
        os.makedirs(self.dump, exist_ok=True)
        env = clean_env(tmp, DUMP_DIR=self.dump, **(extra_env or {}))
        args = ["--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank", str(rank),
                "--main_process_ip", ip, "--main_process_port", str(port), *extra_args,
                os.path.join(tmp, "worker.py")]
        self.proc = subprocess.Popen(prefix + [ACCELERATE, "launch"] + args, cwd=tmp, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = self.err = ""
        self.ended = None

    def wait(self, timeout):
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, self.err = self.proc.communicate()
            self.err += "\n<TIMEOUT>"
        self.ended = time.time()
        return self.proc.returncode

    def tail(self):
        return self.err[-600:]


def write_worker(tmp):
    with open(os.path.join(tmp, "worker.py"), "w") as f:
        f.write(WORKER)


def leftovers(tmp):
    """Processes still running the test's worker script."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if os.path.join(tmp, "worker.py") in cmd:
            found.append(pid)
    return found


def scenario_allreduce(name, tmp, prefixes, ips, port, source_dir, env=None):
    """Machine 1 starts first; 2 x 2 workers all_reduce; the environment matches multinode_2x2."""
    m1 = Machine(1, prefixes[1], tmp, ips[0], port, extra_env=(env or [{}, {}])[1])
    time.sleep(1.0)
    m0 = Machine(0, prefixes[0], tmp, ips[0], port, extra_env=(env or [{}, {}])[0])
    rc0, rc1 = m0.wait(180), m1.wait(60)
    ok = rc0 == 0 and rc1 == 0
    check(ok, f"{name}: both launchers exit 0 (got {rc0}, {rc1})" + ("" if ok else f"; {m0.tail()!r} {m1.tail()!r}"))
    lines = sorted(l for l in (m0.out + m1.out).splitlines() if l.startswith("rank "))
    check(lines == [f"rank {r}/4 sum 10" for r in range(4)], f"{name}: 4 ranks, all_reduce sum 10 ({lines})")
    want = upstream_multinode_2x2(source_dir)
    for r in range(4):
        path = os.path.join(tmp, f"dump{r // 2}", f"env_{r}.json")
        if not os.path.exists(path):
            check(False, f"{name}: rank {r} wrote its environment")
            continue
        with open(path) as f:
            got = json.load(f)
        exp = dict(want[r], MASTER_ADDR=ips[0], MASTER_PORT=str(port))
        diffs = [f"{k}={got.get(k)!r} (upstream {exp.get(k)!r})" for k in TORCHRUN_KEYS if got.get(k) != exp.get(k)]
        check(not diffs, f"{name}: rank {r} environment as upstream's multinode_2x2 {diffs}")


def scenario_no_machine0(name, tmp, prefixes, ips, port):
    """Machine 0 never starts: machine 1 gives up after --rdzv_timeout with a clear message."""
    t0 = time.time()
    m1 = Machine(1, prefixes[1], tmp, ips[0], port, extra_args=("--rdzv_timeout", "4"))
    rc = m1.wait(60)
    took = m1.ended - t0
    check(rc != 0, f"{name}: machine 1 exits non-zero without machine 0 (got {rc})")
    check(took < 10, f"{name}: within the timeout (took {took:.1f} s)")
    err = [l for l in m1.err.splitlines() if "machine 0" in l]
    ok = len(err) == 1 and "--rdzv_timeout" in err[0]
    check(ok, f"{name}: one line naming machine 0" + (f": {err[0]}" if ok else f" ({m1.tail()!r})"))


def scenario_worker_fails(name, tmp, prefixes, ips, port, env=None):
    """Rank 3 (machine 1) fails: both launchers exit non-zero within 2 s, nothing left behind."""
    extra = [dict(FAIL_RANK="3", **e) for e in (env or [{}, {}])]
    m0 = Machine(0, prefixes[0], tmp, ips[0], port, extra_env=extra[0])
    m1 = Machine(1, prefixes[1], tmp, ips[0], port, extra_env=extra[1])
    rc1, rc0 = m1.wait(180), m0.wait(60)
    check(rc0 != 0 and rc1 != 0, f"{name}: both launchers exit non-zero (got {rc0}, {rc1})")
    failed_at_path = os.path.join(tmp, "dump1", "failed_at")
    if os.path.exists(failed_at_path):
        with open(failed_at_path) as f:
            failed_at = float(f.read())
        late = max(m0.ended, m1.ended) - failed_at
        check(late < 2.0, f"{name}: both launchers ended within 2 s of the failure ({late:.2f} s)")
    else:
        check(False, f"{name}: rank 3 recorded its failure")
    ok = any("machine 1 rank 3 failed" in l for l in m0.err.splitlines())
    check(ok, f"{name}: machine 0 says machine 1 rank 3 failed" + ("" if ok else f" ({m0.tail()!r})"))
    ok = "rank 3" in m1.err and "exited with status 3" in m1.err
    check(ok, f"{name}: machine 1's verdict names rank 3" + ("" if ok else f" ({m1.tail()!r})"))
    time.sleep(0.2)
    check(not leftovers(tmp), f"{name}: no worker left behind ({leftovers(tmp)})")
