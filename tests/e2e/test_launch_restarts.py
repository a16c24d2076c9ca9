"""--max_restarts: the local group is restarted after a failure, TORCHELASTIC_RESTART_COUNT
counts the attempts, each attempt gets its own error-file folder; once the restarts are used
up the verdict is the last attempt's failure."""
import os

from lib import TempDir, check, clean_env, finish, launch
from supervision import kill_leftovers, launch_args, lines, processes_with, reset_out, write_worker

with TempDir() as tmp:
    worker, out = write_worker(tmp)

    # Rank 1 fails on its first attempt only: the job succeeds on the second.
    marker = "restart_ok_%d" % os.getpid()
    r = launch(launch_args(worker, out, "fail=1:exit3", "first_attempt_only=1", "exit_after=0.2",
                           flags=("--max_restarts", "2")), cwd=tmp, env=clean_env(tmp, ACC_TEST_MARKER=marker),
               timeout=120)
    left = processes_with(marker)
    kill_leftovers(marker)
    check(r.returncode == 0, "[restart] the job succeeds after one restart (got %d): %r" % (r.returncode, r.stderr[-500:]))
    for rank in range(3):
        check(lines(out, "attempt.%d" % rank) == ["0", "1"],
              "[restart] rank %d saw TORCHELASTIC_RESTART_COUNT 0 then 1 (%s)" % (rank, lines(out, "attempt.%d" % rank)))
    files = lines(out, "errfile.1")
    check(len(files) == 2 and files[0].endswith("/attempt_0/1/error.json") and files[1].endswith("/attempt_1/1/error.json"),
          "[restart] each attempt has its own error file (%s)" % files)
    check("restarting the workers (restart 1 of 2)" in r.stderr, "[restart] the restart is announced: %r" % r.stderr[-400:])
    check(left == [], "[restart] nothing survives (%s)" % left)
    check(not [n for n in os.listdir(tmp) if n.startswith("torchelastic_")], "[restart] the run folder is removed")

    # A rank that always fails: 1 + 2 attempts, then the verdict and its own status.
    reset_out(out)
    r = launch(launch_args(worker, out, "fail=2:exit3", flags=("--max_restarts", "2")), cwd=tmp,
               env=clean_env(tmp), timeout=120)
    check(r.returncode == 3, "[exhausted] exit 3 (got %d)" % r.returncode)
    check(lines(out, "attempt.0") == ["0", "1", "2"], "[exhausted] three attempts (%s)" % lines(out, "attempt.0"))
    check(r.stderr.count("restarting the workers") == 2, "[exhausted] two restarts announced")
    check("accelerate launch: rank 2 (local_rank 2" in r.stderr and "exited with status 3" in r.stderr,
          "[exhausted] the verdict names rank 2: %r" % r.stderr[-400:])

    # Without --max_restarts there is no restart.
    reset_out(out)
    r = launch(launch_args(worker, out, "fail=0:exit3", "first_attempt_only=1"), cwd=tmp, env=clean_env(tmp),
               timeout=120)
    check(r.returncode == 3 and lines(out, "attempt.0") == ["0"], "[no restarts] one attempt, exit 3")

finish()
