"""Worker output: by default workers write to the launcher's terminal itself (a real pty:
isatty stays true, nothing is prefixed); --tee / --redirects / --log_dir as torchrun's
(<log_dir>/<run_id>_<8>/attempt_<n>/<local_rank>/{stdout,stderr}.log, `[default0]:` on the
console for tee'd lines, nothing on the console for redirected streams); a failing rank's
last stderr lines in the verdict; a log truncated under a running job (logrotate's
copytruncate) is followed from its new start; 1 GB through the prefixer with no line lost,
split or interleaved."""
import glob
import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish, launch

WORKER = r'''
import hashlib, os, sys, time
out = sys.argv[1]
mode = sys.argv[2]
rank = int(os.environ.get("RANK", "0"))
with open(os.path.join(out, "tty.%d" % rank), "w") as f:
    f.write("%d%d" % (os.isatty(1), os.isatty(2)))
if mode == "hello":
    print("hello from %d" % rank, flush=True)
    sys.stderr.write("err from %d\n" % rank)
    sys.stderr.write("\r 0%|  |\r50%|# |\r100%|##|\n")
    sys.stderr.flush()
    sys.stdout.write("tail %d" % rank)   # no final newline
    sys.stdout.flush()
elif mode == "fail":
    print("some stdout of %d" % rank, flush=True)
    if rank == 1:
        for i in range(30):
            sys.stderr.write("stderr line %d of rank %d\n" % (i, rank))
        sys.stderr.flush()
        sys.exit(2)
    time.sleep(60)
elif mode == "truncate":
    # 200 lines, then (once the test has truncated a log and says go) 20 shorter ones.
    for i in range(200):
        print("line %d %d %s" % (rank, i, "x" * 40), flush=True)
    open(os.path.join(out, "phase1.%d" % rank), "w").close()
    end = time.monotonic() + 30
    while not os.path.exists(os.path.join(out, "go")) and time.monotonic() < end:
        time.sleep(0.01)
    for i in range(20):
        print("after %d %d" % (rank, i), flush=True)
elif mode == "bulk":
    # Numbered lines of 20..2000 bytes, written in ~1 MiB blocks; the hash and count of
    # exactly what was written go to bulk.<rank>.
    total = int(sys.argv[3]) << 20
    pad = "abcdefghijklmnopqrstuvwxyz0123456789" * 60
    h = hashlib.sha256()
    written = lines = n = 0
    w = sys.stdout.buffer
    while written < total:
        block = []
        size = 0
        while size < (1 << 20):
            line = "%d %d %s\n" % (rank, n, pad[:(n * 7919) % 1980])
            block.append(line)
            size += len(line)
            n += 1
        data = "".join(block).encode()
        w.write(data)
        h.update(data)
        written += len(data)
        lines += len(block)
    w.flush()
    with open(os.path.join(out, "bulk.%d" % rank), "w") as f:
        f.write("%s %d %d" % (h.hexdigest(), lines, written))
'''


def rank_dirs(log_dir, attempt=0):
    runs = glob.glob(os.path.join(log_dir, "*"))
    return runs, {int(os.path.basename(d)): d for d in glob.glob(os.path.join(log_dir, "*", "attempt_%d" % attempt, "*"))}


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except FileNotFoundError:
        return None


def tty(out, rank):
    return read(os.path.join(out, "tty.%d" % rank))


def args(worker, out, mode, *flags, n=2, extra=()):
    return ["--cpu", "--num_processes", str(n), "--main_process_port", "0", *flags, worker, out, mode, *extra]


def run_on_pty(tmp, argv, env, timeout=120):
    """The launcher on a real pseudo-terminal: (exit status, everything the terminal showed)."""
    pid, master = pty.fork()
    if pid == 0:
        os.chdir(tmp)
        os.execve(ACCELERATE, [ACCELERATE, "launch"] + argv, env)
    output = []
    end = time.monotonic() + timeout
    status = None
    while time.monotonic() < end:
        if select.select([master], [], [], 0.05)[0]:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                output.append(data)
                continue
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
            while select.select([master], [], [], 0.05)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                output.append(data)
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(master)
    return status, b"".join(output).decode(errors="replace")


with TempDir() as tmp:
    worker = os.path.join(tmp, "out_worker.py")
    with open(worker, "w") as f:
        f.write(WORKER)
    out = os.path.join(tmp, "out")
    os.makedirs(out)

    # Default: the workers' own terminal; nothing prefixed, nothing captured.
    status, text = run_on_pty(tmp, args(worker, out, "hello"), clean_env(tmp))
    check(status == 0, "[default] exit 0 (got %s)" % status)
    check(tty(out, 0) == "11" and tty(out, 1) == "11", "[default] workers see a tty on stdout and stderr")
    check("hello from 0" in text and "hello from 1" in text and "[default" not in text,
          "[default] output reaches the terminal unprefixed: %r" % text[-300:])
    check(glob.glob(os.path.join(tmp, "torchelastic_*")) == [], "[default] the temporary run folder is removed")

    # --tee 3 --log_dir D: files unprefixed, console prefixed, torchrun's layout.
    log_dir = os.path.join(tmp, "logs")
    # Bytes, not text mode: universal newlines would turn the progress bar's \r into \n.
    r = subprocess.run([ACCELERATE, "launch"] + args(worker, out, "hello", "--tee", "3", "--log_dir", log_dir),
                       cwd=tmp, env=clean_env(tmp), capture_output=True, timeout=120)
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    check(r.returncode == 0, "[tee] exit 0 (%d: %s)" % (r.returncode, r.stderr[-300:]))
    runs, ranks = rank_dirs(log_dir)
    check(len(runs) == 1 and re.fullmatch(r"none_[a-z0-9_]{8}", os.path.basename(runs[0])),
          "[tee] one run folder <run_id>_<8 chars>: %s" % runs)
    check(sorted(ranks) == [0, 1], "[tee] attempt_0/<local_rank> folders: %s" % sorted(ranks))
    for rk in (0, 1):
        d = ranks.get(rk, "/nonexistent")
        check(read(os.path.join(d, "stdout.log")) == "hello from %d\ntail %d" % (rk, rk),
              "[tee] rank %d stdout.log holds exactly what it wrote: %r" % (rk, read(os.path.join(d, "stdout.log"))))
        check(read(os.path.join(d, "stderr.log")) == "err from %d\n\r 0%%|  |\r50%%|# |\r100%%|##|\n" % rk,
              "[tee] rank %d stderr.log unprefixed, progress bar intact" % rk)
        check("[default%d]:hello from %d\n" % (rk, rk) in r.stdout, "[tee] stdout has [default%d]:hello" % rk)
        check("[default%d]:tail %d\n" % (rk, rk) in r.stdout, "[tee] a last line without newline is flushed")
        check("[default%d]:err from %d\n" % (rk, rk) in r.stderr, "[tee] stderr has [default%d]:err" % rk)
        check("[default%d]:50%%|# |\r[default%d]:100%%|##|\n" % (rk, rk) in r.stderr,
              "[tee] progress bar frames keep their \\r, each prefixed")
        check(tty(out, rk) == "00", "[tee] a tee'd stream is a pipe for the worker, as under torchrun")
    check(all(l.startswith("[default") for l in r.stdout.splitlines()), "[tee] every console line prefixed: %r"
          % r.stdout)
    check("hello" not in r.stderr, "[tee] stdout lines go to stdout only")

    # --role and TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE pick the prefix.
    r = launch(args(worker, out, "hello", "--tee", "1", "--role", "trainer", "--log_dir", log_dir), cwd=tmp,
               env=clean_env(tmp))
    check("[trainer1]:hello from 1" in r.stdout, "[role] prefix [trainer1]: %r" % r.stdout)
    check("err from 1\n" in r.stderr and "[trainer" not in r.stderr, "[role] --tee 1: stderr untouched")
    r = launch(args(worker, out, "hello", "--tee", "1", "--log_dir", log_dir), cwd=tmp,
               env=clean_env(tmp, TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE="${rank}|${role_name}> "))
    check("1|default> hello from 1" in r.stdout, "[template] TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE: %r" % r.stdout)

    # --redirects 3: nothing of the workers on the console, everything in the files.
    log_dir = os.path.join(tmp, "logs_redirect")
    r = launch(args(worker, out, "hello", "--redirects", "3", "--log_dir", log_dir), cwd=tmp, env=clean_env(tmp))
    runs, ranks = rank_dirs(log_dir)
    check(r.returncode == 0 and r.stdout == "", "[redirect] nothing on stdout: %r" % r.stdout)
    check("from" not in r.stderr and "tail" not in r.stderr, "[redirect] nothing of the workers on stderr: %r"
          % r.stderr)
    for rk in (0, 1):
        d = ranks.get(rk, "/nonexistent")
        check(read(os.path.join(d, "stdout.log")) == "hello from %d\ntail %d" % (rk, rk),
              "[redirect] rank %d stdout.log" % rk)
        check((read(os.path.join(d, "stderr.log")) or "").startswith("err from %d\n" % rk),
              "[redirect] rank %d stderr.log" % rk)
        check(tty(out, rk) == "00", "[redirect] the worker writes to its files")

    # Per-rank maps: rank 0's stdout and rank 1's stderr to files, the rest to the console.
    log_dir = os.path.join(tmp, "logs_map")
    r = launch(args(worker, out, "hello", "--redirects", "0:1,1:2", "--log_dir", log_dir), cwd=tmp,
               env=clean_env(tmp))
    runs, ranks = rank_dirs(log_dir)
    check("hello from 0" not in r.stdout and "hello from 1" in r.stdout, "[map] stdout: rank 1 only: %r" % r.stdout)
    check("err from 0" in r.stderr and "err from 1" not in r.stderr, "[map] stderr: rank 0 only")
    check(read(os.path.join(ranks.get(0, "/x"), "stdout.log")) is not None
          and read(os.path.join(ranks.get(0, "/x"), "stderr.log")) is None
          and read(os.path.join(ranks.get(1, "/x"), "stderr.log")) is not None
          and read(os.path.join(ranks.get(1, "/x"), "stdout.log")) is None, "[map] only the redirected files exist")

    # Without --log_dir: a temporary base, kept (it holds the logs) and named on stderr.
    r = launch(args(worker, out, "hello", "--redirects", "3"), cwd=tmp, env=clean_env(tmp))
    m = re.search(r"worker logs in (\S+)", r.stderr)
    check(m is not None and m.group(1).startswith(os.path.join(tmp, "torchelastic_")),
          "[no log_dir] the logs' folder is named: %r" % r.stderr)
    if m:
        check(read(os.path.join(m.group(1), "attempt_0", "1", "stdout.log")) == "hello from 1\ntail 1",
              "[no log_dir] logs under $TMPDIR/torchelastic_<8>/none_<8>/attempt_0/<lr>/")

    # Bad values: torchrun's message, usage error.
    r = launch(args(worker, out, "hello", "--tee", "0-3"), cwd=tmp, env=clean_env(tmp))
    check(r.returncode == 2 and "0-3 does not match: <^[0123]$> or <^(\\d:[0123],)*(\\d:[0123])$>" in r.stderr,
          "[bad value] --tee 0-3 refused (%d: %r)" % (r.returncode, r.stderr[-200:]))

    # A failing rank without an error file: its last 20 stderr lines in the verdict.
    r = launch(args(worker, out, "fail", "--redirects", "2", "--log_dir", os.path.join(tmp, "logs_fail")), cwd=tmp,
               env=clean_env(tmp))
    verdict = r.stderr[r.stderr.find("accelerate launch: rank 1"):]
    check(r.returncode == 2 and "last lines of rank 1's stderr" in verdict, "[verdict] stderr tail shown: %r"
          % r.stderr[-600:])
    check("stderr line 29 of rank 1" in verdict and "stderr line 10 of rank 1" in verdict
          and "stderr line 9 of rank 1" not in verdict, "[verdict] exactly the last 20 lines")

    # On a terminal with --tee 3: prefixed lines on the terminal.
    status, text = run_on_pty(tmp, args(worker, out, "hello", "--tee", "3", "--log_dir", log_dir), clean_env(tmp))
    check(status == 0 and "[default0]:hello from 0" in text and "[default1]:err from 1" in text,
          "[tee on a pty] prefixed lines on the terminal: %r" % text[-300:])

    # A log truncated under the running job (logrotate's copytruncate): the console follows
    # it from its new start, says so once, and no line is lost or split.
    log_dir = os.path.join(tmp, "logs_truncate")
    console = os.path.join(tmp, "console_truncate.txt")
    with open(console, "wb") as f:
        p = subprocess.Popen([ACCELERATE, "launch"] + args(worker, out, "truncate", "--tee", "1", "--log_dir", log_dir),
                             cwd=tmp, env=clean_env(tmp), stdout=f, stderr=subprocess.DEVNULL)
        shown = lambda: read(console) or ""
        caught_up = False
        end = time.monotonic() + 60
        while time.monotonic() < end and not caught_up:
            caught_up = all("[default%d]:line %d 199 " % (r, r) in shown() for r in range(2))
            time.sleep(0.01)
        check(caught_up, "[truncate] the console shows both ranks' first 200 lines")
        _, ranks = rank_dirs(log_dir)
        os.truncate(os.path.join(ranks.get(0, "/x"), "stdout.log"), 0)
        time.sleep(0.1)
        open(os.path.join(out, "go"), "w").close()
        p.wait(timeout=60)
    text = shown()
    check(p.returncode == 0, "[truncate] exit 0 (got %s)" % p.returncode)
    for r in range(2):
        missing = [i for i in range(20) if "[default%d]:after %d %d\n" % (r, r, i) not in text]
        check(missing == [], "[truncate] rank %d's lines after the truncation reach the console (missing %s)"
              % (r, missing))
    notes = [l for l in text.splitlines() if "was truncated" in l]
    check(len(notes) == 1 and notes[0].startswith("[default0]:accelerate launch: ")
          and notes[0].endswith("stdout.log was truncated; following it from its new start"),
          "[truncate] one line says rank 0's log was truncated: %r" % notes)
    check(all(l.startswith("[default") for l in text.splitlines()), "[truncate] every console line is whole")
    check(read(os.path.join(ranks.get(0, "/x"), "stdout.log")) ==
          "".join("after 0 %d\n" % i for i in range(20)), "[truncate] the log holds what came after")

    # 1 GB: 4 ranks x 256 MiB of numbered lines through the prefixer. Every rank's log file
    # and its demultiplexed console lines must hash to exactly what it wrote.
    mib = int(os.environ.get("ACC_OUTPUT_TEST_MIB", "256"))
    log_dir = os.path.join(tmp, "logs_bulk")
    console = os.path.join(tmp, "console.txt")
    start = time.monotonic()
    with open(console, "wb") as f:
        p = subprocess.run([ACCELERATE, "launch"] + args(worker, out, "bulk", "--tee", "3", "--log_dir", log_dir, n=4,
                                                         extra=(str(mib),)),
                           cwd=tmp, env=clean_env(tmp), stdout=f, stderr=subprocess.PIPE, timeout=280)
    took = time.monotonic() - start
    print("bulk: %d MiB per rank x 4 through --tee 3 in %.1f s" % (mib, took), flush=True)
    check(p.returncode == 0, "[1GB] exit 0 (%s)" % p.stderr[-300:])
    runs, ranks = rank_dirs(log_dir)
    expected = {}
    for rk in range(4):
        digest, nlines, nbytes = (read(os.path.join(out, "bulk.%d" % rk)) or "x 0 0").split()
        expected[rk] = (digest, int(nlines), int(nbytes))
        h = hashlib.sha256()
        count = 0
        with open(os.path.join(ranks.get(rk, "/x"), "stdout.log"), "rb") as f:
            while True:
                chunk = f.read(1 << 22)
                if not chunk:
                    break
                h.update(chunk)
                count += chunk.count(b"\n")
        check(h.hexdigest() == digest and count == int(nlines),
              "[1GB] rank %d stdout.log: %d lines, byte for byte what it wrote" % (rk, count))
    hashers = {rk: hashlib.sha256() for rk in range(4)}
    counts = {rk: 0 for rk in range(4)}
    bad = 0
    prefix_re = re.compile(rb"\[default([0-3])\]:(\d) (\d+) ")
    last = {rk: -1 for rk in range(4)}
    with open(console, "rb") as f:
        for line in f:
            m = prefix_re.match(line)
            if not m or m.group(1) != m.group(2) or not line.endswith(b"\n"):
                bad += 1
                continue
            rk = int(m.group(1))
            n = int(m.group(3))
            if n != last[rk] + 1:
                bad += 1
            last[rk] = n
            hashers[rk].update(line[11:])
            counts[rk] += 1
    check(bad == 0, "[1GB] every console line is whole, prefixed with its own rank, in order (%d bad)" % bad)
    for rk in range(4):
        check(hashers[rk].hexdigest() == expected[rk][0] and counts[rk] == expected[rk][1],
              "[1GB] rank %d: %d console lines, none lost or split" % (rk, counts[rk]))
    check(took < 60, "[1GB] took %.1f s" % took)

finish()
