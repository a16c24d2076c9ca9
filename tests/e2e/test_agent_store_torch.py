"""torch's own clients of both protocol generations against the launcher-hosted store.

Debian 12's torch 1.13 (the legacy wire dialect) runs on this machine; a current torch (2.6, the
VALIDATE/PING dialect) runs from a Debian 13 root made with debootstrap, when one exists at
$ACC_TRIXIE_ROOT (default /var/tmp/acc-trixie; .ci/run makes it).
"""
import os
import re
import shutil

from lib import PYTHON, TempDir, check, clean_env, finish, has_torch, launch, skip

HERE = os.path.dirname(os.path.abspath(__file__))
TRIXIE = os.environ.get("ACC_TRIXIE_ROOT", "/var/tmp/acc-trixie")

if not has_torch():
    skip("no torch for the test Python")


def run(label, args, env, cwd, n):
    r = launch(["--cpu", "--num_processes", str(n), "--main_process_port", "0"] + args, cwd=cwd, env=env,
               timeout=280)
    oks = re.findall(r"rank (\d+)/(\d+) store ok torch (\S+)", r.stdout)
    check(r.returncode == 0, f"{label} N={n}: exit 0 (got {r.returncode}; {r.stderr[-600:]!r})")
    check(sorted(int(o[0]) for o in oks) == list(range(n)), f"{label} N={n}: all ranks passed the store checks ({r.stdout[-500:]!r})")
    return oks


with TempDir() as tmp:
    env = clean_env(tmp)
    worker = os.path.join(HERE, "store_ops_worker.py")
    for n in (2, 8):
        oks = run("torch 1.13", [worker], env, tmp, n)
        check(all(o[2].startswith("1.") for o in oks), "the clients were torch 1.x (legacy dialect)")

    python_in_root = os.path.join(TRIXIE, "usr", "bin", "python3")
    if os.geteuid() == 0 and os.path.exists(python_in_root) and \
            os.system(f"chroot {TRIXIE} python3 -c 'import torch' >/dev/null 2>&1") == 0:
        inside = os.path.join(TRIXIE, "acc_test")
        os.makedirs(inside, exist_ok=True)
        shutil.copy(worker, os.path.join(inside, "store_ops_worker.py"))
        wrapper = os.path.join(tmp, "in_trixie.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec /usr/sbin/chroot {TRIXIE} /usr/bin/env USE_LIBUV=0 python3 /acc_test/store_ops_worker.py\n")
        os.chmod(wrapper, 0o755)
        for n in (2, 8):
            oks = run("torch 2.x", ["--no_python", wrapper], env, tmp, n)
            check(all(o[2].startswith("2.") for o in oks), "the clients were torch 2.x (VALIDATE dialect)")
    else:
        print(f"note: no Debian 13 root with torch at {TRIXIE}; current-dialect clients not run", flush=True)
finish()
