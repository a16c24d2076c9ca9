"""Helpers for the supervision tests: a scriptable Python worker (no torch) and /proc checks.

The worker is started as `worker.py OUT key=value...`; it writes what it sees into OUT:
  pid.<rank>      its pid, written last at start-up (the "ready" mark)
  kid.<rank>      pids of the children it forked (children=N)
  sig.<rank>      "<signo> <time>" for each SIGINT/SIGTERM/SIGHUP it (or a child) received,
                  and SIGUSR1/SIGUSR2 with usr=...
  attempt.<rank>  TORCHELASTIC_RESTART_COUNT of each start
  tty.<rank>      "<isatty(1)><isatty(2)>", e.g. "11"
  errfile.<rank>  its TORCHELASTIC_ERROR_FILE
  failed_at       time.time() just before the failing rank fails
Options:
  fail=R:HOW            rank R fails once every rank is ready; HOW is exit3, segv, kill, record, stderr
  first_attempt_only=1  ... only when TORCHELASTIC_RESTART_COUNT is 0
  on_signal=exit|ignore record the signal, then exit 128+N (default) or go on
  default_term=1        leave SIGTERM at its default disposition (dies at once, records nothing)
  children=N            fork N children (same handlers), which sleep
  exit_after=S          exit 0 after S seconds instead of sleeping forever
  usr=note|exit         handle SIGUSR1/SIGUSR2 (children too): record it, then go on, or
                        exit 0 (a preempted job that saved its checkpoint)
"""
import os
import signal
import subprocess
import time

WORKER = r'''
import json, os, signal, sys, time
out = sys.argv[1]
opts = dict(a.split("=", 1) for a in sys.argv[2:])
rank = int(os.environ.get("RANK", "0"))
world = int(os.environ.get("WORLD_SIZE", "1"))
attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "")

def note(name, text):
    with open(os.path.join(out, name), "a") as f:
        f.write(text + "\n")

on_signal = opts.get("on_signal", "exit")
def handler(signo, frame):
    note("sig.%d" % rank, "%d %.6f" % (signo, time.time()))
    if on_signal == "exit":
        os._exit(128 + signo)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, handler)
if opts.get("default_term"):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
def usr_handler(signo, frame):
    note("sig.%d" % rank, "%d %.6f" % (signo, time.time()))
    if opts["usr"] == "exit":
        os._exit(0)
if opts.get("usr"):
    for s in (signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, usr_handler)

note("attempt.%d" % rank, attempt)
note("tty.%d" % rank, "%d%d" % (os.isatty(1), os.isatty(2)))
note("errfile.%d" % rank, os.environ.get("TORCHELASTIC_ERROR_FILE", ""))
for _ in range(int(opts.get("children", "0"))):
    if os.fork() == 0:
        note("kid.%d" % rank, str(os.getpid()))
        while True:
            time.sleep(0.05)
# Ready only once every child runs Python code of its own: CPython drops a signal that
# reaches a child before its after-fork set-up is done, and the test would wait for it.
kids_file = os.path.join(out, "kid.%d" % rank)
while opts.get("children") and (not os.path.exists(kids_file) or
                                len(open(kids_file).read().split()) < int(opts["children"])):
    time.sleep(0.005)
note("pid.%d" % rank, str(os.getpid()))

fail = opts.get("fail")
if fail and not (opts.get("first_attempt_only") and attempt != "0"):
    frank, how = fail.split(":")
    if int(frank) == rank:
        deadline = time.time() + 60
        while time.time() < deadline and not all(
                os.path.exists(os.path.join(out, "pid.%d" % r)) for r in range(world)):
            time.sleep(0.01)
        time.sleep(0.05)
        if how == "segv":
            import ctypes, resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        note("failed_at", "%.6f" % time.time())
        if how == "exit3":
            os._exit(3)  # no interpreter teardown: the failure is this instant
        if how == "segv":
            ctypes.string_at(0)
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "record":
            with open(os.environ["TORCHELASTIC_ERROR_FILE"], "w") as f:
                json.dump({"message": {"message": "RuntimeError: boom from rank %d" % rank, "extraInfo": {
                    "py_callstack": "Traceback (most recent call last):\n  File \"worker.py\", line 7, in main\n"
                                    "RuntimeError: boom from rank %d (caf\u00e9 \U0001F600)\n" % rank,
                    "timestamp": "0"}}}, f)  # json.dump writes the emoji as a surrogate pair, as @record does
            sys.exit(1)
        if how == "stderr":
            for i in range(30):
                sys.stderr.write("stderr line %d of rank %d\n" % (i, rank))
            sys.exit(2)
if opts.get("exit_after"):
    time.sleep(float(opts["exit_after"]))
    sys.exit(0)
while True:
    time.sleep(0.05)
'''


def write_worker(tmp):
    path = os.path.join(tmp, "worker.py")
    with open(path, "w") as f:
        f.write(WORKER)
    out = os.path.join(tmp, "out")
    os.makedirs(out, exist_ok=True)
    return path, out


def reset_out(out):
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))


def lines(out, name):
    try:
        with open(os.path.join(out, name)) as f:
            return [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return []


def signals(out, rank):
    return [int(l.split()[0]) for l in lines(out, "sig.%d" % rank)]


def alive(pid):
    """A running process (zombies count as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def processes_with(marker):
    """Live processes whose environment holds ACC_TEST_MARKER=<marker>."""
    needle = ("ACC_TEST_MARKER=" + marker).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env and alive(int(name)):
            found.append(int(name))
    return found


def eventually(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def ready(out, world):
    return all(lines(out, "pid.%d" % r) for r in range(world))


def pids(out, world):
    return [int(lines(out, "pid.%d" % r)[-1]) for r in range(world)]


def signal_and_wait(p, timeout, signo=signal.SIGTERM):
    """Send `signo` to the Popen `p` and wait for it to end: (its exit code, or None when it
    was still running after `timeout` s and was killed; the seconds since the signal). Its
    pipes are not read: a test may be keeping them full on purpose."""
    t0 = time.monotonic()
    p.send_signal(signo)
    try:
        p.wait(timeout=timeout)
        code = p.returncode
    except subprocess.TimeoutExpired:
        code = None
        p.kill()
        p.wait()
    return code, time.monotonic() - t0


def kill_leftovers(marker):
    import signal
    for pid in processes_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def launch_args(worker, out, *opts, n=3, flags=()):
    return ["--cpu", "--num_processes", str(n), "--main_process_port", "0", *flags, worker, out,
            *opts]
