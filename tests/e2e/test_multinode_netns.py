"""Two machines with their own addresses: network namespaces joined by a veth pair
(10.203.0.1/24 and 10.203.0.2/24, nothing else). Machine 0 hosts the store on its
address; 2 x 2 workers all_reduce across them; a missing machine 0 and a failing worker
on machine 1 end both launchers. Needs root and `ip` (iproute2); exit 125 otherwise."""
import os
import random
import shutil
import subprocess

from lib import SOURCE_DIR, TempDir, finish, has_torch, skip
from multinode import scenario_allreduce, scenario_no_machine0, scenario_worker_fails, write_worker

if not has_torch():
    skip("no torch for the test Python")
if os.geteuid() != 0:
    skip("network namespaces need root")
IP = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None)
if not IP:
    skip("no `ip` command (install iproute2)")

tag = f"{os.getpid() % 100000}"
NS = [f"accmm0_{tag}", f"accmm1_{tag}"]
VETH = [f"accv0_{tag}", f"accv1_{tag}"]
ADDR = ["10.203.0.1", "10.203.0.2"]


def ip(*args):
    return subprocess.run([IP, *args], capture_output=True, text=True)


def teardown():
    for ns in NS:
        ip("netns", "del", ns)


def setup():
    steps = [("netns", "add", NS[0]), ("netns", "add", NS[1]),
             ("link", "add", VETH[0], "type", "veth", "peer", "name", VETH[1]),
             ("link", "set", VETH[0], "netns", NS[0]), ("link", "set", VETH[1], "netns", NS[1])]
    for i in (0, 1):
        steps += [("-n", NS[i], "addr", "add", f"{ADDR[i]}/24", "dev", VETH[i]),
                  ("-n", NS[i], "link", "set", VETH[i], "up"), ("-n", NS[i], "link", "set", "lo", "up")]
    for step in steps:
        r = ip(*step)
        if r.returncode != 0:
            return f"`ip {' '.join(step)}` failed: {r.stderr.strip()}"
    return None


teardown()
why = setup()
if why:
    teardown()
    skip(f"network namespaces unavailable: {why}")
try:
    prefixes = [[IP, "netns", "exec", NS[0]], [IP, "netns", "exec", NS[1]]]
    # gloo picks its interface from the host name otherwise, which resolves outside the namespaces.
    env = [{"GLOO_SOCKET_IFNAME": VETH[0]}, {"GLOO_SOCKET_IFNAME": VETH[1]}]
    port = random.randint(30000, 40000)
    with TempDir() as tmp:
        write_worker(tmp)
        scenario_allreduce("netns", tmp, prefixes, ADDR, port, SOURCE_DIR, env=env)
    with TempDir() as tmp:
        write_worker(tmp)
        scenario_no_machine0("netns", tmp, prefixes, ADDR, port + 1)
    with TempDir() as tmp:
        write_worker(tmp)
        scenario_worker_fails("netns", tmp, prefixes, ADDR, port + 2, env=env)
finally:
    teardown()
finish()
