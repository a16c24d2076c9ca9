"""--verdict_json PATH (our extension): how the run ended, as JSON, on success, failure and
interruption; the failing rank's @record traceback is in it."""
import json
import os
import signal
import subprocess

from lib import ACCELERATE, TempDir, check, clean_env, finish, launch
from supervision import eventually, launch_args, ready, reset_out, write_worker

with TempDir() as tmp:
    worker, out = write_worker(tmp)
    path = os.path.join(tmp, "verdict.json")

    def verdict():
        with open(path) as f:
            return json.load(f)

    r = launch(launch_args(worker, out, "fail=2:record", flags=("--verdict_json", path)), cwd=tmp,
               env=clean_env(tmp), timeout=120)
    v = verdict()
    check(r.returncode == 1 and v["result"] == "failed" and v["exit_status"] == 1,
          "[failed] result failed, exit status 1 (%s)" % {k: v[k] for k in ("result", "exit_status")})
    ff = v["first_failure"]
    check(ff["rank"] == 2 and ff["exit_code"] == 1 and not ff["stopped_by_launcher"], "[failed] first failure is rank 2")
    check("RuntimeError: boom from rank 2" in (ff["root_cause"] or ""), "[failed] root cause from the error file")
    check(ff["error_file"].endswith("/attempt_0/2/error.json"), "[failed] error file named")
    others = [w for w in v["workers"] if w["rank"] != 2]
    check(len(v["workers"]) == 3 and all(w["stopped_by_launcher"] and w["status"] == 143 for w in others),
          "[failed] ranks 0 and 1 stopped by the launcher (exit 143 from their handler)")
    check(all(w["error_file"] is None for w in others), "[failed] no error file for ranks that wrote none")

    reset_out(out)
    r = launch(launch_args(worker, out, "exit_after=0", flags=("--verdict_json", path)), cwd=tmp,
               env=clean_env(tmp), timeout=120)
    v = verdict()
    check(r.returncode == 0 and v["result"] == "succeeded" and v["first_failure"] is None
          and all(w["status"] == 0 for w in v["workers"]), "[succeeded] %s" % v["result"])

    reset_out(out)
    p = subprocess.Popen([ACCELERATE, "launch"] + launch_args(worker, out, flags=("--verdict_json", path)), cwd=tmp,
                         env=clean_env(tmp), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    eventually(lambda: ready(out, 3))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    v = verdict()
    check(p.returncode == 143 and v["result"] == "interrupted" and v["launcher_signal"] == "SIGTERM"
          and v["exit_status"] == 143, "[interrupted] %s %s" % (v["result"], v["launcher_signal"]))

    # Written whole: a reader polling for the file never sees half of it. The run replaces
    # an old verdict by rename, so the old file's inode stays intact for whoever has it open.
    with open(path, "w") as f:
        f.write("old")
    old_inode = os.stat(path).st_ino
    reset_out(out)
    r = launch(launch_args(worker, out, "exit_after=0", flags=("--verdict_json", path)), cwd=tmp,
               env=clean_env(tmp), timeout=120)
    check(r.returncode == 0 and verdict()["result"] == "succeeded" and os.stat(path).st_ino != old_inode,
          "[atomic] the verdict replaces the old file by rename")
    check([n for n in os.listdir(tmp) if n.startswith(".verdict.json") or n.endswith(".tmp")] == [],
          "[atomic] no temporary file left beside it: %s" % os.listdir(tmp))

    # /dev/stdout (or a pipe): written in place, never renamed over.
    node_before = (os.path.islink("/dev/stdout"), os.lstat("/dev/stdout").st_ino)
    reset_out(out)
    p = subprocess.run([ACCELERATE, "launch"] + launch_args(worker, out, "exit_after=0",
                                                            flags=("--verdict_json", "/dev/stdout")),
                       cwd=tmp, env=clean_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    text = p.stdout.decode()
    check(p.returncode == 0 and '"result": "succeeded"' in text.replace('":"', '": "'),
          "[/dev/stdout] the verdict goes to stdout: %r" % text[-200:])
    check((os.path.islink("/dev/stdout"), os.lstat("/dev/stdout").st_ino) == node_before,
          "[/dev/stdout] /dev/stdout itself is intact")

    # A folder that does not exist: one line naming the path, the run's own status.
    reset_out(out)
    r = launch(launch_args(worker, out, "exit_after=0", flags=("--verdict_json", os.path.join(tmp, "no", "v.json"))),
               cwd=tmp, env=clean_env(tmp), timeout=120)
    check(r.returncode == 0 and "could not write --verdict_json" in r.stderr and os.path.join(tmp, "no", "v.json")
          in r.stderr, "[unwritable] one line, exit status of the run: %r" % r.stderr[-300:])

    # A named pipe nobody reads: refused at once with one line, not a launcher stuck in open().
    fifo = os.path.join(tmp, "verdict.fifo")
    os.mkfifo(fifo)
    reset_out(out)
    r = launch(launch_args(worker, out, "exit_after=0", flags=("--verdict_json", fifo)), cwd=tmp,
               env=clean_env(tmp), timeout=60)
    check(r.returncode == 0 and "could not write --verdict_json " + fifo + ": no process has that pipe open for "
          "reading" in r.stderr, "[fifo nobody reads] one line, the run's own status: %r" % r.stderr[-300:])

    # An error file that is JSON of another shape is no root cause, and no "not valid JSON".
    odd = os.path.join(tmp, "odd.py")
    with open(odd, "w") as f:
        f.write("import os, sys\n"
                "open(os.environ['TORCHELASTIC_ERROR_FILE'], 'w').write("
                "'{\"message\": {\"message\": {\"x\": 1}, \"extraInfo\": 5}}')\n"
                "print('the last words', file=sys.stderr)\n"
                "sys.exit(1)\n")
    r = launch(["--cpu", "--num_processes", "2", "--main_process_port", "0", odd], cwd=tmp, env=clean_env(tmp),
               timeout=60)
    check(r.returncode == 1 and "not valid JSON" not in r.stderr and "the last words" in r.stderr,
          "[odd error file] the verdict shows the rank's stderr instead: %r" % r.stderr[-300:])

finish()
