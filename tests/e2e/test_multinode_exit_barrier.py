"""Two launchers on one host, no torch: machine 1's workers finish while machine 0's still
run, so machine 1's launcher waits in torchrun's exit barrier for the other machine. A
SIGTERM there (a scheduler ending the job) ends that wait and the launcher at once, by
that signal (exit 143), with one line saying what it was waiting for."""
import os
import signal
import socket
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish
from supervision import kill_leftovers, processes_with, signal_and_wait

# Machine 1's ranks (GROUP_RANK 1) note that they ran and exit 0; machine 0's sleep.
SCRIPT = 'touch "$DUMP/ran.$RANK"; [ "$GROUP_RANK" = 1 ] && exit 0; exec sleep 60'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


with TempDir() as tmp:
    port = free_port()
    marker = "exit_barrier_%d" % os.getpid()
    env = clean_env(tmp, DUMP=tmp, ACC_TEST_MARKER=marker)

    def machine(rank):
        return subprocess.Popen([ACCELERATE, "launch", "--multi_gpu", "--num_machines", "2", "--num_processes", "4",
                                 "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port",
                                 str(port), "--no_python", "/bin/sh", "-c", SCRIPT], cwd=tmp, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    m0 = machine(0)
    m1 = machine(1)
    ran = lambda: all(os.path.exists(os.path.join(tmp, "ran.%d" % r)) for r in range(4))
    end = time.monotonic() + 60
    while time.monotonic() < end and not ran():
        time.sleep(0.05)
    check(ran(), "every rank ran")
    time.sleep(1.0)  # machine 1's workers have exited: its launcher waits in the exit barrier
    check(m1.poll() is None, "machine 1's launcher waits for machine 0 once its own workers are done")
    t0 = time.monotonic()
    m1.send_signal(signal.SIGTERM)
    try:
        _, err1 = m1.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        m1.kill()
        _, err1 = m1.communicate()
    took = time.monotonic() - t0
    check(m1.returncode == 143 and took < 3,
          "SIGTERM in the exit barrier: machine 1's launcher exits 143 at once (got %s after %.1f s)"
          % (m1.returncode, took))
    check("interrupted while waiting for the other machines to finish" in err1 and "within 300 s" not in err1,
          "one line says it was waiting for the other machines (%r)" % err1[-400:])
    signal_and_wait(m0, 30)
    check(processes_with(marker) == [], "nothing survives (%s)" % processes_with(marker))
    kill_leftovers(marker)
finish()
