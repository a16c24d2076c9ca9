"""A console that takes nothing (a pipe nobody reads, a paused `less`, a terminal whose ssh
stalled) under `--tee`: the launcher writes to it without blocking, so it still serves
signals and failures at once, and loses nothing once the console reads again.

- a pipe nobody reads, then SIGTERM: the run stops (exit 143) within seconds, nothing left;
- stderr on that pipe too: the --verdict_json file is written at once; the last message
  waits for a reader, or for a second SIGTERM, which ends the launcher at once;
- the same with a pipe the launcher cannot open again (another user's);
- a console slower than one loud rank: a quiet rank's lines are not held behind its backlog;
- a console that keeps taking a little when the run is stopped: waited for 5 s in all;
- a terminal (a pseudo-terminal) nobody reads, then SIGTERM;
- a pipe nobody reads, then a rank fails: the other rank is stopped at once; read again
  1.5 s later, it still gets the line saying where the rest of the output is;
- a pipe, then a socket (journald's stream), read only after 2 s with stdout and stderr
  on it: every line arrives, whole and in order;
- a restart while nobody reads: it does not wait, and every line is whole once read.
"""
import os
import pty
import signal
import socket
import subprocess
import tempfile
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish
from supervision import eventually, kill_leftovers, processes_with, signal_and_wait

# worker.py OUT MODE LINES: writes LINES numbered lines of ~70 bytes to stdout (and, in
# modes "both" and "restart", as many to stderr), then: "sleep" sleeps (noting a
# SIGTERM), "fail1" makes rank 1 exit 3 once OUT/fail exists, "exit" and "both" exit 0,
# "restart" exits 3 on rank 1's first attempt and 0 otherwise; "loud" is "sleep" with rank 1
# writing a single line, 0.5 s in, and noting when in OUT/quiet.1.
WORKER = r'''
import os, signal, sys, time
out, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rank = int(os.environ.get("RANK", "0"))
attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
def on_term(signo, frame):
    with open(os.path.join(out, "term.%d" % rank), "w") as f:
        f.write("%.6f" % time.time())
    os._exit(143)
signal.signal(signal.SIGTERM, on_term)
pad = "x" * 50
if mode == "loud" and rank == 1:  # one line, once rank 0 has flooded the console
    count = 0
    time.sleep(0.5)
    sys.stdout.write("1 out 0 %s\n" % pad)
    sys.stdout.flush()
    with open(os.path.join(out, "quiet.1"), "w") as f:
        f.write("%.6f" % time.time())
for i in range(count):
    sys.stdout.write("%d out %d %s\n" % (rank, i, pad))
    if mode in ("both", "restart"):
        sys.stderr.write("%d err %d %s\n" % (rank, i, pad))
sys.stdout.flush()
sys.stderr.flush()
open(os.path.join(out, "written.%d" % rank), "w").close()
if mode == "restart":
    sys.exit(3 if rank == 1 and attempt == "0" else 0)
if mode == "exit" or mode == "both":
    sys.exit(0)
end = time.monotonic() + 120
while time.monotonic() < end:
    if mode == "fail1" and rank == 1 and os.path.exists(os.path.join(out, "fail")):
        os._exit(3)
    time.sleep(0.01)
'''

LINES = 40000  # ~2.8 MB per rank: far more than a pipe (64 KiB) or a terminal holds


def argv(worker, out, mode, count=LINES):
    return [ACCELERATE, "launch", "--cpu", "--num_processes", "2", "--main_process_port", "0", "--tee", "3",
            "--log_dir", os.path.join(out, "logs"), "--grace_period", "5", worker, out, mode, str(count)]


def written(out):
    return all(os.path.exists(os.path.join(out, "written.%d" % r)) for r in range(2))


def fresh(tmp, name):
    out = os.path.join(tmp, name)
    os.makedirs(out)
    return out


def start_unread(tmp, worker, name, mode, stderr, flags=()):
    """The launcher with its stdout on a pipe nobody reads (stderr as given), once its
    workers have written everything: (out folder, marker, process)."""
    out = fresh(tmp, name)
    marker = "stalled_%s_%d" % (name, os.getpid())
    args = argv(worker, out, mode)
    args[2:2] = list(flags)
    p = subprocess.Popen(args, cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker), stdout=subprocess.PIPE,
                         stderr=stderr)
    check(eventually(lambda: written(out), 60), "[%s] the workers wrote everything (the pipe is full)" % name)
    time.sleep(0.2)
    return out, marker, p


def read_all(p):
    """Everything the launcher writes to its stdout pipe, once it has ended."""
    try:
        data, _ = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        data, _ = p.communicate()
    return data


def worker_lines(data):
    """(rank, stream, n) for each of the workers' console lines; None for one not whole.
    The launcher's own lines are left out."""
    for line in data.decode(errors="replace").splitlines():
        if not line.startswith("[default") or "accelerate launch:" in line:
            continue
        try:
            prefix, body = line.split(":", 1)
            rank, stream, n, pad = body.split(" ")
            whole = prefix == "[default%s]" % rank and pad == "x" * 50 and stream in ("out", "err")
            yield (int(rank), stream, int(n)) if whole else None
        except ValueError:
            yield None


def wait_exit(p, timeout):
    try:
        p.wait(timeout=timeout)
        return p.returncode
    except subprocess.TimeoutExpired:
        return None


with TempDir() as tmp:
    worker = os.path.join(tmp, "worker.py")
    with open(worker, "w") as f:
        f.write(WORKER)

    # A pipe nobody reads, then SIGTERM (a scheduler's): the run stops at once.
    out, marker, p = start_unread(tmp, worker, "term", "sleep", subprocess.DEVNULL)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    code = wait_exit(p, 10)
    took = time.monotonic() - t0
    left = processes_with(marker)
    check(code == 143, "[pipe, SIGTERM] the launcher exits 143 though nobody reads its stdout (got %s after %.1f s)"
          % (code, took))
    check(took < 5, "[pipe, SIGTERM] within 5 s (%.2f s)" % took)
    check(all(os.path.exists(os.path.join(out, "term.%d" % r)) for r in range(2)), "[pipe, SIGTERM] every rank got SIGTERM")
    check(left == [], "[pipe, SIGTERM] nothing survives (%s)" % left)
    p.stdout.close()
    p.wait()
    kill_leftovers(marker)

    # stdout and stderr both on the pipe nobody reads: the workers are stopped and the
    # --verdict_json file is written at once; only the launcher's last message waits.
    verdict = os.path.join(tmp, "both.json")
    out, marker, p = start_unread(tmp, worker, "both", "sleep", subprocess.STDOUT, ("--verdict_json", verdict))
    p.send_signal(signal.SIGTERM)
    check(eventually(lambda: os.path.exists(verdict), 5), "[pipe for both, SIGTERM] the verdict file is written")
    check(eventually(lambda: processes_with(marker) in ([], [p.pid]), 5),
          "[pipe for both, SIGTERM] every worker is gone (%s)" % processes_with(marker))
    try:
        data, _ = p.communicate(timeout=30)  # reading the pipe lets the launcher say its last word
    except subprocess.TimeoutExpired:
        p.kill()
        data, _ = p.communicate()
    check(p.returncode == 143 and b"received SIGTERM" in data,
          "[pipe for both, SIGTERM] then it exits 143 after its message (got %s)" % p.returncode)
    kill_leftovers(marker)

    # The same, but nobody ever reads: a second SIGTERM ends the wait for the console.
    verdict = os.path.join(tmp, "twice.json")
    out, marker, p = start_unread(tmp, worker, "twice", "sleep", subprocess.STDOUT, ("--verdict_json", verdict))
    p.send_signal(signal.SIGTERM)
    check(eventually(lambda: os.path.exists(verdict), 5), "[second SIGTERM] the verdict file is written")
    time.sleep(2.5)  # past the copy's 1 s and the line's 1 s: waiting to say its last words
    still = p.poll() is None
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    code = wait_exit(p, 5)
    took = time.monotonic() - t0
    check(still and code is not None and code in (143, -15) and took < 2,
          "[second SIGTERM] it ends the launcher at once, console unread (got %s after %.2f s)" % (code, took))
    check(processes_with(marker) == [], "[second SIGTERM] nothing survives (%s)" % processes_with(marker))
    p.stdout.close()
    p.wait()
    kill_leftovers(marker)

    # The same when the pipe is another user's and cannot be opened again (a container's
    # stdout with the job running as non-root): written only when poll() says it has room.
    if os.geteuid() == 0:
        shared = tempfile.mkdtemp(prefix="acc_stall_uid_")
        os.chmod(shared, 0o777)
        their_worker = os.path.join(shared, "worker.py")
        with open(their_worker, "w") as f:
            f.write(WORKER)
        os.chmod(their_worker, 0o644)
        out = os.path.join(shared, "uid")
        os.makedirs(out)
        os.chmod(out, 0o777)
        marker = "stalled_uid_%d" % os.getpid()

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        p = subprocess.Popen(argv(their_worker, out, "sleep"), cwd=shared,
                             env=clean_env(shared, ACC_TEST_MARKER=marker), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, preexec_fn=as_nobody)
        check(eventually(lambda: written(out), 60), "[another user's pipe] the workers wrote everything")
        time.sleep(0.2)
        code, took = signal_and_wait(p, 10)
        check(code == 143 and took < 5, "[another user's pipe, SIGTERM] the launcher exits 143 within 5 s "
              "though it cannot open its stdout again (got %s after %.1f s)" % (code, took))
        check(processes_with(marker) == [], "[another user's pipe] nothing survives (%s)" % processes_with(marker))
        p.stdout.close()
        kill_leftovers(marker)
        subprocess.run(["rm", "-rf", shared])

    # A console slower than one loud rank (a reader taking ~1 MB/s): a quiet rank's line
    # reaches it within moments, not behind the loud rank's whole backlog (~20 s here).
    out = fresh(tmp, "slow")
    marker = "stalled_slow_%d" % os.getpid()
    p = subprocess.Popen(argv(worker, out, "loud", 300000), cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    seen = None
    data = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        chunk = os.read(p.stdout.fileno(), 16384)
        if not chunk:
            break
        data += chunk
        if seen is None and b"[default1]:1 out 0 " in data:
            seen = time.time()
            break
        time.sleep(0.015)
    quiet_path = os.path.join(out, "quiet.1")
    written_at = float(open(quiet_path).read()) if os.path.exists(quiet_path) else None
    check(seen is not None and written_at is not None and seen - written_at < 5,
          "[slow console] the quiet rank's line shows within 5 s though the loud rank's backlog takes ~20 s "
          "(after %s s)" % (None if seen is None or written_at is None else "%.1f" % (seen - written_at)))
    p.send_signal(signal.SIGTERM)
    read_all(p)
    check(processes_with(marker) == [], "[slow console] nothing survives (%s)" % processes_with(marker))
    kill_leftovers(marker)

    # A console that keeps taking a little (10 KB/s: a slow ssh link) when the run is
    # stopped: it is waited for 5 s in all, not for the ~2 MB still behind (200 s).
    out, marker, p = start_unread(tmp, worker, "trickle", "sleep", subprocess.DEVNULL)
    import threading
    trickled = []
    slow = [True]  # read at 10 KB/s until the launcher has exited, then the rest at once

    def trickle():
        while True:
            chunk = os.read(p.stdout.fileno(), 1024)
            if not chunk:
                return
            trickled.append(chunk)
            if slow[0]:
                time.sleep(0.1)

    reader = threading.Thread(target=trickle, daemon=True)
    reader.start()
    time.sleep(0.5)
    code, took = signal_and_wait(p, 60)
    check(code == 143 and took < 10, "[slow console, SIGTERM] exit 143 within 10 s though the console still "
          "takes a little (got %s after %.1f s)" % (code, took))
    slow[0] = False
    reader.join(timeout=30)
    check(b"of this output not shown here (the run was stopped)" in b"".join(trickled),
          "[slow console, SIGTERM] a line says what was not shown and where it is")
    check(processes_with(marker) == [], "[slow console, SIGTERM] nothing survives (%s)" % processes_with(marker))
    kill_leftovers(marker)

    # The same on a terminal that nobody reads (its stderr goes to a file).
    out = fresh(tmp, "tty")
    marker = "stalled_tty_%d" % os.getpid()
    err_path = os.path.join(out, "stderr.txt")
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 2)
        os.execve(ACCELERATE, argv(worker, out, "sleep"), clean_env(tmp, ACC_TEST_MARKER=marker))
    check(eventually(lambda: written(out), 60), "[tty, SIGTERM] the workers wrote everything (the terminal is full)")
    time.sleep(0.2)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    status = None
    end = time.monotonic() + 10
    while time.monotonic() < end:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.01)
    took = time.monotonic() - t0
    left = processes_with(marker)
    check(status == 143 and took < 5, "[tty, SIGTERM] exit 143 within 5 s (got %s after %.2f s)" % (status, took))
    check(left == [], "[tty, SIGTERM] nothing survives (%s)" % left)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(master)
    kill_leftovers(marker)

    # A pipe nobody reads, then rank 1 fails: rank 0 is stopped at once, not when the
    # console is read again.
    out, marker, p = start_unread(tmp, worker, "fail", "fail1", subprocess.DEVNULL)
    failed_at = time.time()
    open(os.path.join(out, "fail"), "w").close()
    stopped = eventually(lambda: os.path.exists(os.path.join(out, "term.0")), 5)
    code = wait_exit(p, 10)
    if stopped:
        with open(os.path.join(out, "term.0")) as f:
            delay = float(f.read()) - failed_at
        check(delay < 1.0, "[pipe, failure] rank 0 got SIGTERM %.3f s after rank 1 failed" % delay)
    else:
        check(False, "[pipe, failure] rank 0 got SIGTERM while nobody read the console")
    check(code == 3, "[pipe, failure] the launcher exits with the failing rank's 3 (got %s)" % code)
    left = processes_with(marker)
    check(left == [], "[pipe, failure] nothing survives (%s)" % left)
    p.stdout.close()
    p.wait()
    kill_leftovers(marker)

    # The same, and the console is read again 1.5 s after the failure (a paused `less`):
    # the copy was given up on after the 1 s it gets, but the rest of the line it had begun
    # and the line saying where everything is still reach it (before, no such line).
    out, marker, p = start_unread(tmp, worker, "resumed", "fail1", subprocess.DEVNULL)
    open(os.path.join(out, "fail"), "w").close()
    time.sleep(1.5)
    data = read_all(p)
    lines = list(worker_lines(data))
    check(p.returncode == 3 and b"of this output not shown here (the run was stopped); all of it is in" in data,
          "[pipe read 1.5 s after a failure] exit 3, and a line says what was not shown and where it is "
          "(got %s, last bytes %r)" % (p.returncode, data[-160:]))
    check(lines and None not in lines and data.endswith(b"\n"),
          "[pipe read 1.5 s after a failure] no line cut (%d lines)" % len(lines))
    kill_leftovers(marker)

    # A pipe that stalls for 2 s, then is read: every line of both ranks and both streams
    # (stdout and stderr share the pipe) arrives whole and in order.
    out = fresh(tmp, "recover")
    marker = "stalled_recover_%d" % os.getpid()
    p = subprocess.Popen(argv(worker, out, "both", 20000), cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(2.0)
    data = read_all(p)
    check(p.returncode == 0, "[recover] exit 0 (got %s)" % p.returncode)
    expected = {(r, s): 0 for r in range(2) for s in ("out", "err")}
    bad = 0
    for seen in worker_lines(data):
        if seen is None or seen[2] != expected[seen[:2]]:
            bad += 1
            continue
        expected[seen[:2]] += 1
    check(bad == 0, "[recover] every console line is whole and in order (%d bad)" % bad)
    check(all(v == 20000 for v in expected.values()), "[recover] no line lost: %s" % expected)
    kill_leftovers(marker)

    # A socket as the console (journald's stream under systemd), unread for 2 s: written
    # with send(MSG_DONTWAIT), nothing lost.
    out = fresh(tmp, "socket")
    marker = "stalled_socket_%d" % os.getpid()
    ours, theirs = socket.socketpair()
    p = subprocess.Popen(argv(worker, out, "both", 20000), cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
                         stdout=theirs.fileno(), stderr=theirs.fileno())
    theirs.close()
    time.sleep(2.0)
    ours.settimeout(120)
    chunks = []
    while True:
        chunk = ours.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    ours.close()
    code = wait_exit(p, 60)
    seen = list(worker_lines(b"".join(chunks)))
    check(code == 0 and None not in seen and len(seen) == 80000,
          "[socket] exit 0, all 80,000 lines whole (exit %s, %d lines, %d not whole)"
          % (code, len(seen), seen.count(None)))
    kill_leftovers(marker)

    # A restart while nobody reads the console: the failed attempt's copy is given up on
    # after 1 s (it is in the log files), the restart does not wait for the console, and
    # once the console is read every line on it is whole, the last attempt's all there.
    out = fresh(tmp, "restart")
    marker = "stalled_restart_%d" % os.getpid()
    args = argv(worker, out, "restart")
    args[2:2] = ["--max_restarts", "1"]
    p = subprocess.Popen(args, cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    attempt1 = lambda: os.path.exists(os.path.join(out, "logs")) and any(
        "attempt_1" in d for _, dirs, _ in os.walk(os.path.join(out, "logs")) for d in dirs)
    check(eventually(attempt1, 30), "[restart] the second attempt started while nobody read the console")
    time.sleep(1.0)
    data = read_all(p)
    check(p.returncode == 0, "[restart] the run succeeds on its second attempt (got %s)" % p.returncode)
    malformed = 0
    last = {}
    for seen in worker_lines(data):
        if seen is None:
            malformed += 1
        else:
            last[seen[:2]] = seen[2]
    check(malformed == 0, "[restart] every console line is whole (%d malformed)" % malformed)
    check(all(last.get((r, st)) == LINES - 1 for r in range(2) for st in ("out", "err")),
          "[restart] the last attempt's lines all reached the console (last seen: %s)" % last)
    kill_leftovers(marker)

finish()
