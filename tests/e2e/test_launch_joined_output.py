"""Several workers on a console that is no terminal (a pipe, a file: a batch job's log):
their output goes through the launcher, joined whole lines at a time, so lines of different
ranks never mix mid-line, even with PYTHONUNBUFFERED=1 where print() writes a line's text
and its newline apart. stdout and stderr sharing one console (`2>&1`) keep the order each
worker wrote them in; an unfinished line (a prompt) still shows within a moment; a console
that takes nothing holds the writers up and loses nothing; a stop signal still ends the
launcher while nobody reads; the verdict ends with the failing rank's own last stderr
lines, picked out from among the other ranks'. One worker, a terminal or /dev/null: the workers' own fds."""
import os
import re
import select
import signal
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish

WORKER = r'''
import os, sys, time
out = sys.argv[1]
mode = sys.argv[2]
rank = int(os.environ.get("RANK", "0"))
with open(os.path.join(out, "fds.%d" % rank), "w") as f:
    f.write(os.readlink("/proc/self/fd/1") + "\n" + os.readlink("/proc/self/fd/2"))
if mode == "lines":
    # print() writes the text and the newline apart (PYTHONUNBUFFERED=1).
    for i in range(1500):
        print("out %d %d %s" % (rank, i, "x" * ((i * 37 + rank * 11) % 300)))
        if i % 3 == 0:
            print("err %d %d %s" % (rank, i, "y" * ((i * 13) % 200)), file=sys.stderr)
elif mode == "order":
    for i in range(400):
        print("seq %d %d" % (rank, i), file=sys.stdout if i % 2 == 0 else sys.stderr)
elif mode == "prompt":
    if rank == 0:
        sys.stdout.write("waiting for the others...")
        sys.stdout.flush()
        time.sleep(3)
        print(" done")
elif mode == "bulk":
    line = ("bulk %d " % rank) + "z" * 200 + "\n"
    for i in range(40000):   # ~8 MiB per rank
        sys.stdout.write(line)
    sys.stdout.flush()
elif mode == "crash":
    if rank == 1:
        time.sleep(0.3)
        print("rank 1 about to fail", file=sys.stderr)
        1 / 0
    for i in range(100000):
        print("noise from rank 0 line %d" % i, file=sys.stderr)
        time.sleep(0.001)
elif mode == "flood":
    t0 = time.time(); i = 0
    while time.time() - t0 < 2.0:
        print("rank %d noise line %d %s" % (rank, i, "x" * 60)); i += 1
    sys.stderr.write("rank %d wrote %d lines\n" % (rank, i))
elif mode == "cause":
    if rank == 1:
        i = 0
        while True:
            print("rank 1 noise line %d %s" % (i, "x" * 60), file=sys.stderr); i += 1
    time.sleep(1.5)
    raise RuntimeError("THE REAL CAUSE")
elif mode == "bars":
    for i in range(25):
        sys.stderr.write("\rrank %d progress %d/25" % (rank, i)); sys.stderr.flush()
        time.sleep(0.08)
    sys.stderr.write("\n")
elif mode == "head":
    for i in range(3000):
        print("rank %d line %d" % (rank, i), flush=True)
        time.sleep(0.01)
elif mode == "open":
    time.sleep(0.2 * rank)
    os.write(1, b"rank%d open line" % rank)
    time.sleep(0.6)
elif mode == "frames":
    # Rank 0's frames end in '\r' and wait longer than the 50 ms an open line is held;
    # rank 1's lines land between them.
    if rank == 0:
        os.write(1, b"frame1\r"); time.sleep(1.0)
        os.write(1, b"frame2\r"); time.sleep(0.5)
        os.write(1, b"\n")
        os.write(1, b"prompt: "); time.sleep(1.0)
        os.write(1, b"\n")
    else:
        time.sleep(0.5); os.write(1, b"B-line\n")
        time.sleep(1.5); os.write(1, b"C-line\n")
elif mode == "lazy":
    if rank == 0:
        try:
            for i in range(100):
                os.write(1, b"r0 line %d\n" % i); time.sleep(0.01)
        except BrokenPipeError:
            pass
        time.sleep(2)
        sys.exit(0)
    time.sleep(1.5)
    for i in range(5):
        try:
            os.write(1, b"r1 write %d\n" % i)
        except BrokenPipeError:
            os.write(2, b"r1 EPIPE at write %d\n" % i)
            break
        time.sleep(0.1)
elif mode == "endless":
    open(os.path.join(out, "started.%d" % rank), "w").close()
    while True:
        sys.stdout.write(("endless %d " % rank) + "w" * 500 + "\n")
'''


def start(tmp, n, mode, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **extra):
    env = clean_env(tmp, PYTHONUNBUFFERED="1", **extra)
    # Port 0: a free port without a note on stderr, whatever else runs beside the test.
    return subprocess.Popen([ACCELERATE, "launch", "--cpu", "--num_processes", str(n), "--num_machines", "1",
                             "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
                             os.path.join(tmp, "w.py"), tmp,
                             mode], cwd=tmp, env=env, stdout=stdout, stderr=stderr)


def run_on_one_pipe(tmp, n, mode, chunk=65536, pause=0.0, timeout=60):
    """`accelerate launch ... 2>&1 | reader`: stdout and stderr on one pipe, read `chunk`
    bytes at a time with `pause` s between reads. Returns (exit status, all it wrote)."""
    r, w = os.pipe()
    p = start(tmp, n, mode, stdout=w, stderr=w)
    os.close(w)
    data = b""
    while piece := os.read(r, chunk):
        data += piece
        time.sleep(pause)
    os.close(r)
    p.wait(timeout=timeout)
    return p.returncode, data


def fds_of(tmp, rank):
    with open(os.path.join(tmp, "fds.%d" % rank)) as f:
        return f.read().split("\n")


def intact(lines, tag, n, count_of):
    """Every line is `tag rank i <pad>` with the length the worker wrote, and each rank's
    lines come complete and in order."""
    pattern = re.compile(r"^%s (\d+) (\d+) ([xy]*)$" % tag)
    seen = {r: [] for r in range(n)}
    bad = []
    for line in lines:
        m = pattern.match(line)
        if not m or int(m.group(1)) not in seen:
            bad.append(line)
            continue
        seen[int(m.group(1))].append(int(m.group(2)))
    return bad, all(seen[r] == count_of(r) for r in range(n))


def joined_lines_never_mix(tmp):
    p = start(tmp, 4, "lines")
    out, err = p.communicate(timeout=120)
    check(p.returncode == 0, f"4 unbuffered workers on pipes: exit 0 (got {p.returncode})")
    out_lines = out.decode().splitlines()
    err_lines = [l for l in err.decode().splitlines() if not l.startswith(("The following", "\t", "To avoid"))]
    bad, complete = intact(out_lines, "out", 4, lambda r: list(range(1500)))
    check(not bad, f"every stdout line whole, none mixed with another rank's ({len(bad)} bad, e.g. {bad[:2]})")
    check(complete, "every rank's 1500 stdout lines arrived, in order")
    bad, complete = intact(err_lines, "err", 4, lambda r: list(range(0, 1500, 3)))
    check(not bad, f"every stderr line whole ({len(bad)} bad, e.g. {bad[:2]})")
    check(complete, "every rank's stderr lines arrived, in order")
    w0 = fds_of(tmp, 0)
    check(w0[0].startswith("pipe:") and w0[0] != w0[1], f"each worker writes its own pipes to the launcher ({w0})")


def shared_console_keeps_order(tmp):
    status, data = run_on_one_pipe(tmp, 2, "order")
    check(status == 0, "2>&1: exit 0")
    for rank in range(2):
        seq = [int(m.group(1)) for m in re.finditer(rb"^seq %d (\d+)$" % rank, data, re.M)]
        check(seq == list(range(400)),
              f"2>&1: rank {rank}'s stdout and stderr lines in the order written ({len(seq)} lines)")
    w0 = fds_of(tmp, 0)
    check(w0[0] == w0[1], f"2>&1: one pipe for both streams of a worker ({w0})")


def prompt_shows_at_once(tmp):
    p = start(tmp, 2, "prompt", stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    got = b""
    seen_at = None
    while time.monotonic() - t0 < 20:
        ready, _, _ = select.select([p.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            got += chunk
            if seen_at is None and b"waiting for the others..." in got:
                seen_at = time.monotonic() - t0
    p.wait(timeout=30)
    check(seen_at is not None and seen_at < 2.5,
          f"an unfinished line shows while its worker waits (after {seen_at} s; the line ends at 3 s)")
    check(b"waiting for the others... done\n" in got, f"and the line goes on where it stopped ({got[-60:]!r})")


def full_console_loses_nothing(tmp):
    p = start(tmp, 2, "bulk", stderr=subprocess.DEVNULL)
    time.sleep(2.0)  # nobody reads: the pipe fills, the workers wait
    check(p.poll() is None, "a console that takes nothing holds the writers up (the job waits)")
    out = p.stdout.read()
    p.wait(timeout=120)
    check(p.returncode == 0, "then the job ends normally")
    lines = out.decode().splitlines()
    ok = [l for l in lines if re.fullmatch(r"bulk [01] z{200}", l)]
    check(len(ok) == 80000 and len(lines) == 80000, f"all 80,000 lines arrived whole ({len(ok)} of {len(lines)})")


def stop_while_nobody_reads(tmp):
    p = start(tmp, 2, "endless", stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while not all(os.path.exists(os.path.join(tmp, "started.%d" % r)) for r in range(2)) and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(1.0)  # the pipes are full by now, the workers blocked in write()
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    took = time.monotonic() - t0
    check(p.returncode == 128 + signal.SIGTERM, f"SIGTERM while nobody reads: exit 143 (got {p.returncode})")
    check(took < 10, f"and the launcher does not wait for the console ({took:.1f} s)")
    p.stdout.close()


def verdict_names_the_last_words(tmp):
    p = start(tmp, 2, "crash", stdout=subprocess.DEVNULL)
    _, err = p.communicate(timeout=60)
    err = err.decode()
    check(p.returncode == 1, f"a rank that raises: exit 1 (got {p.returncode})")
    verdict = err[err.find("accelerate launch: rank 1"):]
    check("last lines of rank 1's stderr:" in verdict and verdict.rstrip().endswith("ZeroDivisionError: division by zero")
          and "rank 1 about to fail" in verdict and "noise from rank 0" not in verdict,
          f"the verdict ends with rank 1's own last stderr lines, none of rank 0's ({verdict[-400:]!r})")
    _, data = run_on_one_pipe(tmp, 2, "crash")
    text = data.decode()
    check("last lines of rank 1's output (stdout and stderr):" in text,
          "2>&1: the verdict names what it shows as the rank's output")


def slow_console_serves_every_rank(tmp):
    # A console slower than one rank's output: each rank gets its turn, none is starved.
    _, data = run_on_one_pipe(tmp, 2, "flood", chunk=4096, pause=0.01, timeout=120)
    counts = [int(m.group(1)) for m in re.finditer(rb"^rank \d wrote (\d+) lines$", data, re.M)]
    check(len(counts) == 2 and min(counts) > max(counts) / 3,
          f"a slow console: both ranks got to write (lines written per rank: {counts})")


def cause_survives_a_stalled_console(tmp):
    # Rank 0 fails while rank 1 floods stderr and nobody reads for 5 s: the console misses
    # most of it, the verdict still ends with rank 0's traceback.
    p = start(tmp, 2, "cause", stdout=subprocess.DEVNULL)
    time.sleep(5)
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    verdict = err[err.find("accelerate launch: rank 0"):]
    check(p.returncode == 1 and "RuntimeError: THE REAL CAUSE" in verdict,
          f"a console stalled during the failure: the verdict still has the cause ({verdict[-300:]!r})")


def progress_bars_never_run_together(tmp):
    p = start(tmp, 2, "bars", stdout=subprocess.DEVNULL)
    _, err = p.communicate(timeout=60)
    glued = re.findall(rb"progress \d+/25rank", err)
    frames = re.findall(rb"rank \d progress \d+/25", err)
    check(not glued and len(frames) == 50,
          f"two ranks' '\\r' progress bars: every frame whole, none run into another ({len(glued)} glued, "
          f"{len(frames)} of 50 frames)")


def console_gone_ends_the_job(tmp):
    # `| head -3`: the workers learn that their console is gone (EPIPE), as if they wrote it.
    t0 = time.monotonic()
    p = start(tmp, 2, "head", stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-3"], stdin=p.stdout, capture_output=True, timeout=60)
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    took = time.monotonic() - t0
    check(len(head.stdout.splitlines()) == 3 and p.returncode == 1 and b"BrokenPipeError" in err and took < 15,
          f"| head -3: the job ends at once with the workers' BrokenPipeError (exit {p.returncode}, {took:.1f} s)")


def open_lines_ended_once(tmp):
    # Three ranks each leave a line open, in turn: each is ended once, no empty line.
    p = start(tmp, 3, "open", stderr=subprocess.DEVNULL)
    out, _ = p.communicate(timeout=60)
    check(out == b"rank0 open line\nrank1 open line\nrank2 open line\n",
          f"lines left open by three ranks: each ended once, no empty lines ({out!r})")


def held_carriage_return_adds_no_line(tmp):
    # A frame handed out after waiting keeps its '\r' back (it may start "\r\n"); once
    # another rank's line has ended the frame's line, that '\r', and a '\n' ending the
    # line again, add nothing: no empty line, no '\r' alone on a line.
    p = start(tmp, 2, "frames", stderr=subprocess.DEVNULL)
    out, _ = p.communicate(timeout=60)
    check(out == b"frame1\nB-line\nframe2\r\nprompt: \nC-line\n",
          f"'\\r' frames and a prompt ended by another rank's lines: each line once, no empty one ({out!r})")


def every_writer_learns_the_console_is_gone(tmp):
    # Rank 0 fills `head -c 30`; rank 1 writes only later: its very first write gets EPIPE,
    # as it would writing the pipe itself.
    p = start(tmp, 2, "lazy")
    head = subprocess.run(["head", "-c", "30"], stdin=p.stdout, capture_output=True, timeout=60)
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    check(b"r1 EPIPE at write 0" in err, f"a console gone: a rank writing later gets EPIPE at once ({err[-200:]!r})")


def own_fds_where_joining_is_no_use(tmp):
    # One worker keeps the launcher's pipe; several writing /dev/null keep /dev/null.
    p = start(tmp, 1, "order", stderr=subprocess.DEVNULL)
    p.communicate(timeout=60)
    w0 = fds_of(tmp, 0)
    check(p.returncode == 0 and w0[0].startswith("pipe:") and w0[1] == "/dev/null",
          f"one worker: the launcher's own stdout and stderr ({w0})")
    p = start(tmp, 2, "order", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.wait(timeout=60)
    check(fds_of(tmp, 0) == ["/dev/null", "/dev/null"] and fds_of(tmp, 1) == ["/dev/null", "/dev/null"],
          "several workers on /dev/null: /dev/null itself")


def main():
    with TempDir() as tmp:
        with open(os.path.join(tmp, "w.py"), "w") as f:
            f.write(WORKER)
        joined_lines_never_mix(tmp)
        shared_console_keeps_order(tmp)
        prompt_shows_at_once(tmp)
        full_console_loses_nothing(tmp)
        stop_while_nobody_reads(tmp)
        verdict_names_the_last_words(tmp)
        slow_console_serves_every_rank(tmp)
        cause_survives_a_stalled_console(tmp)
        progress_bars_never_run_together(tmp)
        console_gone_ends_the_job(tmp)
        open_lines_ended_once(tmp)
        held_carriage_return_adds_no_line(tmp)
        every_writer_learns_the_console_is_gone(tmp)
        own_fds_where_joining_is_no_use(tmp)
    finish()


if __name__ == "__main__":
    main()
