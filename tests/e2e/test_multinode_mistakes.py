"""Launchers on one host playing machines, no torch: mistakes in how the machines are started
end every launcher at once with one line naming the mistake.

- a second launcher with a machine_rank already taken is turned away; the job goes on;
- machine 0 expecting more machines than the others: both name the disagreement;
- machine 1 giving up on a machine that never came: machine 0 stops too, at once;
- machine 1's launcher SIGKILLed mid-run: machine 0 stops at once, naming it.
"""
import os
import socket
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish
from supervision import kill_leftovers, processes_with


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine(tmp, env, port, rank, machines, procs, script="sleep 2", timeout=20):
    return subprocess.Popen([ACCELERATE, "launch", "--multi_gpu", "--num_machines", str(machines), "--num_processes",
                             str(procs), "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1",
                             "--main_process_port", str(port), "--rdzv_timeout", str(timeout), "--no_python",
                             "/bin/sh", "-c", script], cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def ended(p, timeout):
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err


def said(err, text):
    return [l for l in err.splitlines() if text in l]


with TempDir() as tmp:
    marker = "mm_mistakes_%d" % os.getpid()
    env = clean_env(tmp, ACC_TEST_MARKER=marker)

    # The same machine_rank twice.
    port = free_port()
    m0 = machine(tmp, env, port, 0, 2, 4)
    m1 = machine(tmp, env, port, 1, 2, 4)
    time.sleep(0.5)
    t0 = time.monotonic()
    dup = machine(tmp, env, port, 1, 2, 4)
    code, err = ended(dup, 20)
    took = time.monotonic() - t0
    lines = said(err, "machine_rank 1 is already taken")
    check(code == 1 and took < 5 and len(lines) == 1,
          "[rank twice] the second machine 1 is turned away at once with one line (%s after %.1f s: %r)"
          % (code, took, err[-300:]))
    c0, e0 = ended(m0, 30)
    c1, e1 = ended(m1, 30)
    check(c0 == 0 and c1 == 0, "[rank twice] the job itself goes on and ends well (%s, %s: %r %r)"
          % (c0, c1, e0[-200:], e1[-200:]))

    # Machine 0 expects 3 machines, machine 1 says 2: the disagreement is named on both.
    port = free_port()
    t0 = time.monotonic()
    m0 = machine(tmp, env, port, 0, 3, 6, timeout=3)
    m1 = machine(tmp, env, port, 1, 2, 4, timeout=3)
    (c0, e0), (c1, e1) = ended(m0, 30), ended(m1, 30)
    took = time.monotonic() - t0
    both = said(e0, "the machines disagree") and said(e1, "the machines disagree")
    check(c0 == 1 and c1 == 1 and took < 10 and both and "num_machines" in e0 + e1,
          "[num_machines 3 vs 2] both exit 1 naming the disagreement (%s, %s after %.1f s: %r %r)"
          % (c0, c1, took, e0[-250:], e1[-250:]))

    # Three machines, machine 2 never comes. Machine 1's --rdzv_timeout is the shorter: when
    # it gives up, machine 0 stops too instead of waiting out its own 30 s.
    port = free_port()
    m1 = machine(tmp, env, port, 1, 3, 6, timeout=3)
    time.sleep(0.5)
    m0 = machine(tmp, env, port, 0, 3, 6, timeout=30)
    c1, e1 = ended(m1, 30)
    t1 = time.monotonic()
    c0, e0 = ended(m0, 40)
    gap = time.monotonic() - t1
    check(c1 == 1 and said(e1, "machine 2 of 3 did not join"), "[machine 2 never came] machine 1 names it (%s: %r)"
          % (c1, e1[-300:]))
    check(c0 == 1 and gap < 5 and said(e0, "machine 1"),
          "[machine 2 never came] machine 0 stops within 5 s of machine 1, naming why (%s after %.1f s: %r)"
          % (c0, gap, e0[-300:]))
    # Machine 1's launcher is SIGKILLed mid-run (its workers die with it): machine 0 learns
    # it from its store at once and stops its own workers, instead of running on alone.
    port = free_port()
    m0 = machine(tmp, env, port, 0, 2, 4, script="exec sleep 60")
    m1 = machine(tmp, env, port, 1, 2, 4, script="exec sleep 60")
    end = time.monotonic() + 30
    while time.monotonic() < end and len(processes_with(marker)) < 6:  # 2 launchers, 4 workers
        time.sleep(0.05)
    time.sleep(0.5)
    t0 = time.monotonic()
    m1.kill()
    m1.communicate()
    c0, e0 = ended(m0, 30)
    took = time.monotonic() - t0
    check(c0 == 1 and took < 5 and said(e0, "machine 1: its launcher went away"),
          "[machine 1 killed] machine 0 stops within 5 s, naming it (%s after %.1f s: %r)" % (c0, took, e0[-300:]))
    check(processes_with(marker) == [], "nothing survives (%s)" % processes_with(marker))
    kill_leftovers(marker)
finish()
