#!/usr/bin/env python3
"""Stopping `accelerate config` part-way never damages the config it would replace: Ctrl-C in a menu and in a
text field (real pseudo-terminal), SIGTERM, and SIGKILL while it waits for an answer all leave the previous file
byte-for-byte intact and no temporary file behind; the terminal is given back in its normal mode."""
import os
import signal
import termios
import tempfile
import time

import config_e2e_common as c

c.need_binary()
d = c.driver()
OLD = "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_processes: 2\n# hand edits kept\n"


def session(work):
    folder = os.path.join(work, "cfg")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "config.yaml")
    with open(path, "w") as f:
        f.write(OLD)
    s, _ = d.start(f"{c.BIN} config --config_file {path}", work)
    return s, path, folder


def intact(path, folder, what):
    c.check(open(path).read() == OLD, f"{what}: previous config unchanged")
    c.check(sorted(os.listdir(folder)) == ["config.yaml"], f"{what}: no temporary file left ({os.listdir(folder)})")


def canonical(s):
    return bool(termios.tcgetattr(s.slave)[3] & termios.ICANON) and bool(termios.tcgetattr(s.slave)[3] & termios.ECHO)


# Ctrl-C while a menu reads keys (terminal in raw mode: ^C arrives as a byte).
with tempfile.TemporaryDirectory() as work:
    s, path, folder = session(work)
    s.wait_for("In which compute environment are you running?")
    s.answer("menu", "0")
    s.wait_for("Which type of machine are you using?")
    c.check(s.raw_mode(), "menu: terminal in raw mode while it waits for a key")
    os.write(s.master, b"\x03")
    deadline = time.time() + 10
    while s.alive() and time.time() < deadline:
        s.pump(0.1)
    s.settle()
    screen = d.plain(s.out)
    c.check(canonical(s), "menu Ctrl-C: terminal back in canonical mode with echo")
    status = s.finish(5)
    c.check(status == 130, f"menu Ctrl-C: exit 130 (got {status})")
    c.check("interrupted" in screen and "Traceback" not in screen, "menu Ctrl-C: one line, no stack trace")
    c.check("\x1b[?25h" in s.out, "menu Ctrl-C: cursor shown again")
    intact(path, folder, "menu Ctrl-C")

# Ctrl-C while a text field waits (canonical mode: the terminal sends SIGINT).
with tempfile.TemporaryDirectory() as work:
    s, path, folder = session(work)
    for q, kind, v in [("In which compute environment", "menu", "0"), ("Which type of machine", "menu", "4")]:
        s.wait_for(q)
        s.answer(kind, v)
    c.check(s.wait_for("How many different machines will you use"), "field question reached")
    os.write(s.master, b"3\x03")
    status = s.finish(10)
    c.check(status == 130, f"field Ctrl-C: exit 130 (got {status})")
    intact(path, folder, "field Ctrl-C")

# SIGTERM while waiting: same promise.
with tempfile.TemporaryDirectory() as work:
    s, path, folder = session(work)
    s.wait_for("In which compute environment")
    os.kill(s.pid, signal.SIGTERM)
    status = s.finish(10)
    c.check(status == 128 + signal.SIGTERM, f"SIGTERM: exit {128 + signal.SIGTERM} (got {status})")
    intact(path, folder, "SIGTERM")

# SIGKILL (nothing can be cleaned up) at several points: at the first menu, in a field, at the very last menu
# (the moment before the write). The file is only ever replaced by rename, so it is old or new, never partial.
for stop_after in (0, 3, 11):
    with tempfile.TemporaryDirectory() as work:
        s, path, folder = session(work)
        steps = [("In which compute environment", "menu", "0"), ("Which type of machine", "menu", "4"),
                 ("How many different machines", "field", "1"), ("Should distributed operations", "field", ""),
                 ("torch dynamo", "field", ""), ("DeepSpeed", "field", ""), ("FullyShardedDataParallel", "field", ""),
                 ("Megatron-LM", "field", ""), ("How many GPU(s)", "field", "2"), ("(by id)", "field", ""),
                 ("numa efficiency", "field", ""), ("Do you wish to use mixed precision?", None, None)]
        for q, kind, v in steps[:stop_after + 1]:
            s.wait_for(q)
            if kind and steps.index((q, kind, v)) < stop_after:
                s.answer(kind, v)
        os.kill(s.pid, signal.SIGKILL)
        status = s.finish(10)
        c.check(status == -signal.SIGKILL, f"SIGKILL after {stop_after} answers: killed (got {status})")
        intact(path, folder, f"SIGKILL after {stop_after} answers")

# And a finished run replaces it completely (so the checks above can fail).
with tempfile.TemporaryDirectory() as work:
    s, path, folder = session(work)
    for q, kind, v in [("In which compute environment", "menu", "0"), ("Which type of machine", "menu", "1"),
                       ("How many different machines", "field", ""), ("Should distributed", "field", ""),
                       ("mpirun", "field", ""), ("torch dynamo", "field", ""), ("How many processes", "field", "2"),
                       ("mixed precision?", "menu", "0")]:
        s.wait_for(q)
        s.answer(kind, v)
    status = s.finish(10)
    c.check(status == 0 and c.load(path)["distributed_type"] == "MULTI_CPU", "a finished wizard replaces the file")
    c.check(sorted(os.listdir(folder)) == ["config.yaml"], "finished wizard: no temporary file left")
c.finish()
