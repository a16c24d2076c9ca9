"""Two launchers on one host (machine_rank 0 and 1 on 127.0.0.1) x 2 workers, Debian's torch:
the static rendezvous, start order, a missing machine 0, failure propagation."""
import socket

from lib import SOURCE_DIR, TempDir, finish, has_torch, skip
from multinode import scenario_allreduce, scenario_no_machine0, scenario_worker_fails, write_worker

if not has_torch():
    skip("no torch for the test Python")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ips = ["127.0.0.1", "127.0.0.1"]
prefixes = [[], []]
with TempDir() as tmp:
    write_worker(tmp)
    scenario_allreduce("loopback", tmp, prefixes, ips, free_port(), SOURCE_DIR)
with TempDir() as tmp:
    write_worker(tmp)
    scenario_no_machine0("loopback", tmp, prefixes, ips, free_port())
with TempDir() as tmp:
    write_worker(tmp)
    scenario_worker_fails("loopback", tmp, prefixes, ips, free_port())
finish()
