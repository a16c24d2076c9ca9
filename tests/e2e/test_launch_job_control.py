"""Job control at a real terminal, driven through an interactive bash (the way users start
runs), which is what the pseudo-terminal tests that run the launcher as a session leader
cannot show: there the kernel never stops a process for touching the terminal.

- A single worker that takes the terminal does not get the launcher stopped by SIGTTOU.
- Ctrl-Z suspends the whole job (every worker and the launcher), `fg` resumes it, as if
  the script had been started directly; with one worker and with three.
- With several workers, a worker that reads the terminal (input(), pdb) is given it
  instead of staying stopped by SIGTTIN forever.
- A job started in the background whose worker reads the terminal is reported by bash
  as stopped for tty input (`jobs -l`); `fg` hands the terminal to that worker.
- A change of the terminal's size (SIGWINCH) reaches every worker, as it reaches a
  script started directly.
"""
import fcntl
import struct
import termios
import os
import pty
import select
import shutil
import signal
import time

import foreign_thread
from lib import ACCELERATE, TempDir, check, clean_env, finish, skip
from lib import check as lib_check
from supervision import eventually, kill_leftovers, processes_with

PROMPT = b"PROMPT$ "
MARKER = "job_control_%d" % os.getpid()

# argv: out_dir; writes pid.<rank>, then ticks until it has been running for 2 s of
# its own (so a suspension shows as a gap), then prints done.
TICKER = r'''
import os, sys, time
out = sys.argv[1]
rank = int(os.environ.get("RANK", "0"))
with open(os.path.join(out, "pid.%d.tmp" % rank), "w") as f:
    f.write(str(os.getpid()))
os.rename(os.path.join(out, "pid.%d.tmp" % rank), os.path.join(out, "pid.%d" % rank))
print("ready %d" % rank, flush=True)
for i in range(40):
    time.sleep(0.05)
print("done %d" % rank, flush=True)
'''

# Notes each SIGWINCH with the terminal's width then, until told to stop.
RESIZED = r'''
import os, signal, shutil, sys, time
out = sys.argv[1]
rank = int(os.environ.get("RANK", "0"))
def on_winch(signo, frame):
    with open(os.path.join(out, "winch.%d" % rank), "a") as f:
        f.write("%d\n" % os.get_terminal_size(sys.stdout.fileno()).columns)
signal.signal(signal.SIGWINCH, on_winch)
open(os.path.join(out, "ready.%d" % rank), "w").close()
while not os.path.exists(os.path.join(out, "stop")):
    time.sleep(0.02)
'''

# Rank 0 asks for a line on the terminal; the other ranks wait for its answer in a file.
READER = r'''
import os, sys, time
out = sys.argv[1]
rank = int(os.environ.get("RANK", "0"))
if rank == 0:
    sys.stdout.write("rank0> "); sys.stdout.flush()
    line = sys.stdin.readline().strip()
    print("rank0 got [%s]" % line, flush=True)
    with open(os.path.join(out, "answer.tmp"), "w") as f:
        f.write(line)
    os.rename(os.path.join(out, "answer.tmp"), os.path.join(out, "answer"))
else:
    while not os.path.exists(os.path.join(out, "answer")):
        time.sleep(0.02)
print("rank %d done" % rank, flush=True)
'''


class Shell:
    """An interactive bash on a pseudo-terminal: job control on, as in a user's terminal."""

    def __init__(self, tmp, env):
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            os.chdir(tmp)
            env = dict(env, PS1=PROMPT.decode(), TERM="dumb")
            os.execve(shutil.which("bash"), ["bash", "--norc", "--noprofile", "-i"], env)
        self.out = b""
        self.expect(PROMPT)

    def read(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if select.select([self.master], [], [], 0.02)[0]:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    return

    def expect(self, what, timeout=30.0, start=0):
        """Wait until `what` appears in the output after offset `start`; True if it did."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if what in self.out[start:]:
                return True
            self.read(0.05)
        return what in self.out[start:]

    def send(self, data):
        mark = len(self.out)
        os.write(self.master, data)
        return mark

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.master)
        left = processes_with(MARKER)
        kill_leftovers(MARKER)  # a job a failed check left stopped or waiting
        check(left == [], "nothing of the job is left when the shell goes (%s)" % left)

    def text(self, start=0):
        return self.out[start:].decode(errors="replace")

    def until_exit(self, start, timeout=30.0):
        """Wait for the EXIT=<status> line a command sent at `start` ends with:
        (whether it came, the text since `start`)."""
        return self.expect(b"EXIT=", start=start, timeout=timeout), self.text(start)

    def fg(self):
        """Resume the stopped job. A stopped job abandons the rest of its command line,
        so the status is asked for again."""
        return self.until_exit(self.send(b'fg; echo "EX""IT=$?"\n'))


def state(pid):
    """The process's state letter from /proc (T: stopped), or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def pids_of(out, n):
    """The workers' pids, once each has written its file (written whole: renamed into place)."""
    found = []
    for rank in range(n):
        path = os.path.join(out, "pid.%d" % rank)
        end = time.monotonic() + 30
        while not os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.02)
        with open(path) as f:
            found.append(int(f.read()))
    return found


def launcher_pid(worker_pid):
    with open("/proc/%d/stat" % worker_pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


if not shutil.which("bash"):
    skip("no bash")


def scenarios(tmp, env, launch_words, tag, folder_prefix):
    """Every scenario, the launcher started by the shell words `launch_words`; `tag` starts each
    check's name, `folder_prefix` each output folder's."""
    def check(ok, what):
        lib_check(ok, tag + what)

    def scenario(name):
        """A fresh output folder and interactive bash for one scenario."""
        out = os.path.join(tmp, folder_prefix + name)
        os.mkdir(out)
        return out, Shell(tmp, env)
    fixed = "--num_machines 1 --mixed_precision no --dynamo_backend no --num_cpu_threads_per_process 1"
    # "EX""IT": the echoed command line must not hold what the output is searched for.
    cmd = launch_words + ' launch --cpu --num_processes %%d %s %%s; echo "EX""IT=$?"\n' % fixed

    # 1. One worker reading the terminal under a job-control shell: the launcher must not
    #    be stopped (SIGTTOU) when the worker takes the terminal.
    sh = Shell(tmp, env)
    try:
        mark = sh.send((cmd % (1, "single_reader.py")).encode())
        asked = sh.expect(b"name> ", start=mark)
        sh.send(b"hello\n")
        done, text = sh.until_exit(mark)
        check(asked and done and "EXIT=0" in text, "[single] the job runs to the end in the foreground: %r" % text[-400:])
        check("Stopped" not in text, "[single] bash never reports the job stopped: %r" % text[-400:])
        check("got [hello]" in text, "[single] the worker read the line typed at the terminal")
    finally:
        sh.close()

    # 2. Ctrl-Z and fg, with one worker (it holds the terminal) and with three.
    for n in (1, 3):
        out, sh = scenario("out%d" % n)
        try:
            mark = sh.send((cmd % (n, "ticker.py " + out)).encode())
            workers = pids_of(out, n)
            check(sh.expect(b"ready", start=mark), "[^Z x%d] the workers started" % n)
            launcher = launcher_pid(workers[0])
            sh.send(b"\x1a")
            reported = sh.expect(b"Stopped", start=mark, timeout=10)
            suspended = eventually(lambda: all(state(p) == "T" for p in workers + [launcher]))
            check(reported, "[^Z x%d] bash reports the job stopped: %r" % (n, sh.text(mark)[-300:]))
            check(suspended, "[^Z x%d] every worker and the launcher are stopped (%s)" %
                  (n, [state(p) for p in workers + [launcher]]))
            sh.read(0.5)
            check("done" not in sh.text(mark), "[^Z x%d] no worker ran on while suspended" % n)
            check(all(state(p) == "T" for p in workers), "[^Z x%d] still stopped 0.5 s later" % n)
            finished, text = sh.fg()
            check(finished and "EXIT=0" in text, "[^Z x%d] after fg the job finishes, exit 0: %r" % (n, text[-300:]))
            check(all("done %d" % r in text for r in range(n)), "[^Z x%d] every worker finished after fg" % n)
        finally:
            sh.close()

    # 2b. One worker in a pipeline (`| cat`): Ctrl-Z stops the whole shell job, cat too,
    #     not only the worker and the launcher, else bash would go on waiting for cat.
    out, sh = scenario("out_pipe")
    try:
        line = launch_words + ' launch --cpu --num_processes 1 %s ticker.py %s | cat; echo "EX""IT=$?"\n' % (fixed, out)
        mark = sh.send(line.encode())
        workers = pids_of(out, 1)
        check(sh.expect(b"ready", start=mark), "[^Z pipe] the worker started")
        sh.send(b"\x1a")
        check(sh.expect(b"Stopped", start=mark, timeout=10), "[^Z pipe] bash reports the job stopped: %r" %
              sh.text(mark)[-300:])
        check(eventually(lambda: state(workers[0]) == "T"), "[^Z pipe] the worker is stopped")
        finished, text = sh.fg()
        check(finished and "EXIT=0" in text and "done 0" in text, "[^Z pipe] after fg the job finishes: %r" % text[-300:])
    finally:
        sh.close()

    # 3. Three workers, rank 0 reads the terminal: it is given the terminal.
    out, sh = scenario("out_reader")
    try:
        mark = sh.send((cmd % (3, "reader.py " + out)).encode())
        asked = sh.expect(b"rank0> ", start=mark)
        check(asked, "[reader x3] rank 0 asks on the terminal: %r" % sh.text(mark)[-300:])
        sh.read(0.3)
        sh.send(b"forty-two\n")
        finished, text = sh.until_exit(mark)
        check(finished and "EXIT=0" in text, "[reader x3] the job finishes, exit 0: %r" % text[-400:])
        check("rank0 got [forty-two]" in text, "[reader x3] rank 0 read the line typed at the terminal")
        check("Stopped" not in text, "[reader x3] bash never reports the job stopped")
    finally:
        sh.close()

    # 3b. Rank 0 reads a line and ends while the others run on: the launcher takes the
    #     terminal back, so a Ctrl-C then reaches it and stops every worker (exit 130).
    with open(os.path.join(tmp, "reader_stay.py"), "w") as f:
        f.write(READER.replace('print("rank %d done" % rank, flush=True)',
                               'print("rank %d done" % rank, flush=True)\nwhile rank: time.sleep(1)'))
    out, sh = scenario("out_reader_stay")
    try:
        mark = sh.send((cmd % (3, "reader_stay.py " + out)).encode())
        check(sh.expect(b"rank0> ", start=mark), "[reader, then ^C] rank 0 asks on the terminal")
        sh.read(0.3)
        sh.send(b"bye\n")
        check(sh.expect(b"rank 2 done", start=mark) and sh.expect(b"rank 1 done", start=mark),
              "[reader, then ^C] rank 0 got its line and the others went on")
        sh.read(0.5)
        sh.send(b"\x03")
        finished, text = sh.until_exit(mark)
        check(finished and "EXIT=130" in text, "[reader, then ^C] Ctrl-C reaches the launcher again: exit 130: %r" %
              text[-300:])
    finally:
        sh.close()

    # 3d. Two workers both read the terminal: one gets it, the other waits for it and
    #     gets it when the first one ends.
    with open(os.path.join(tmp, "both_read.py"), "w") as f:
        f.write('import os, sys\nrank = int(os.environ["RANK"])\n'
                'sys.stdout.write("rank%d> " % rank); sys.stdout.flush()\n'
                'print("rank%d got [%s]" % (rank, sys.stdin.readline().strip()), flush=True)\n')
    sh = Shell(tmp, env)
    try:
        mark = sh.send((cmd % (2, "both_read.py")).encode())
        first = sh.expect(b"> ", start=mark)
        sh.read(0.3)
        sent = sh.send(b"one\n")
        got_one = sh.expect(b"got [one]", start=sent)
        sh.read(0.3)
        sh.send(b"two\n")
        finished, text = sh.until_exit(mark)
        check(first and got_one and finished and "EXIT=0" in text,
              "[both read] the job finishes, exit 0: %r" % text[-300:])
        check("got [one]" in text and "got [two]" in text and text.count("got [") == 2,
              "[both read] each worker read its own line, in turn: %r" % text[-300:])
    finally:
        sh.close()

    # 3c. Ctrl-C under the shell, with one worker (it has the terminal) and with three.
    for n in (1, 3):
        out, sh = scenario("out_int%d" % n)
        try:
            mark = sh.send((cmd % (n, "ticker.py " + out)).encode())
            pids_of(out, n)
            sh.send(b"\x03")
            finished, text = sh.until_exit(mark)
            check(finished and "EXIT=130" in text, "[^C x%d] the job stops, exit 130: %r" % (n, text[-300:]))
        finally:
            sh.close()

    # 4. Started in the background, a worker that reads the terminal: bash says the job
    #    stopped for tty input; fg gives the terminal to that worker.
    out, sh = scenario("out_bg")
    try:
        line = launch_words + ' launch --cpu --num_processes 2 %s reader.py %s &\n' % (fixed, out)
        mark = sh.send(line.encode())
        sh.expect(b"rank0> ", start=mark)
        # Ask bash about its job until the stop has happened (on a slow machine it may
        # come a while after the prompt).
        reported = False
        end = time.monotonic() + 30
        while not reported and time.monotonic() < end:
            asked = sh.send(b"jobs -l\n")
            reported = sh.expect(b"Stopped", start=asked, timeout=1)
        check(reported, "[bg x2] bash reports the background job stopped: %r" % sh.text(mark)[-300:])
        check(b"tty input" in sh.out[asked:], "[bg x2] ... for tty input: %r" % sh.text(asked)[-300:])
        resumed = sh.send(b"fg\n")
        sh.read(0.5)
        sh.send(b"late\n")
        sh.send(b'echo "EX""IT=$?"\n')
        finished, text = sh.until_exit(resumed)
        check(finished and "EXIT=0" in text, "[bg x2] after fg the job finishes, exit 0: %r" % text[-400:])
        check("rank0 got [late]" in text, "[bg x2] rank 0 read the line typed after fg")
    finally:
        sh.close()

    # 5. The terminal is resized while three workers run: each gets SIGWINCH.
    with open(os.path.join(tmp, "resized.py"), "w") as f:
        f.write(RESIZED)
    out, sh = scenario("out_winch")
    try:
        mark = sh.send((cmd % (3, "resized.py " + out)).encode())
        started = eventually(lambda: all(os.path.exists(os.path.join(out, "ready.%d" % r)) for r in range(3)), 30)
        check(started, "[winch x3] the workers started")
        fcntl.ioctl(sh.master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 123, 0, 0))
        got = eventually(lambda: all(os.path.exists(os.path.join(out, "winch.%d" % r)) for r in range(3)))
        check(got, "[winch x3] every worker got SIGWINCH")
        for r in range(3):
            path = os.path.join(out, "winch.%d" % r)
            seen = open(path).read().split() if os.path.exists(path) else []
            check(seen[-1:] == ["123"], "[winch x3] rank %d saw the new width (%s)" % (r, seen))
        open(os.path.join(out, "stop"), "w").close()
        check(sh.expect(b"EXIT=0", start=mark), "[winch x3] the job finishes, exit 0")
    finally:
        sh.close()


with TempDir() as tmp:
    for name, text in (("ticker.py", TICKER), ("reader.py", READER)):
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    with open(os.path.join(tmp, "single_reader.py"), "w") as f:
        f.write('import sys\nsys.stdout.write("name> "); sys.stdout.flush()\n'
                'print("got [%s]" % sys.stdin.readline().strip(), flush=True)\n')
    env = clean_env(tmp, ACC_TEST_MARKER=MARKER)
    scenarios(tmp, env, '"%s"' % ACCELERATE, "", "")
    # As on a GPU machine, where a thread libcuda started, blocking no signal, runs beside
    # the launcher (see test_launch_foreign_threads.py): job control must work the same.
    lib = foreign_thread.build(tmp)
    check(lib is not None, "a C compiler builds the stand-in for libcuda's thread")
    if lib:
        scenarios(tmp, env, 'LD_PRELOAD=%s "%s"' % (lib, ACCELERATE), "[libcuda-like thread] ", "libcuda_")

finish()
