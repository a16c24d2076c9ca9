"""Bad input: one clear line naming the problem, the right exit status, no traceback, no worker."""
import os
import resource

from lib import TempDir, check, clean_env, finish, launch

with TempDir() as tmp:
    env = clean_env(tmp)
    with open(os.path.join(tmp, "t.py"), "w") as f:
        f.write("open('started', 'w').write('x')\n")

    def case(args, status, needle, files=None, extra_env=None):
        for name, text in (files or {}).items():
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        r = launch(args, cwd=tmp, env=dict(env, **(extra_env or {})), timeout=30)
        label = " ".join(args)
        check(r.returncode == status, f"[{label}] exit {status} (got {r.returncode})")
        check(needle in r.stderr, f"[{label}] stderr names the problem: {needle!r} in {r.stderr.strip()[-300:]!r}")
        check("Traceback" not in r.stderr, f"[{label}] no traceback")
        check(not os.path.exists(os.path.join(tmp, "started")), f"[{label}] no worker started")
        for name in (files or {}):
            os.remove(os.path.join(tmp, name))

    case(["--mixed_precision", "fp17", "t.py"], 2, "invalid choice: 'fp17' (choose from no, fp16, bf16, fp8)")
    case(["--num_processes", "two", "t.py"], 2, "invalid int value: 'two'")
    case(["--num_procesess", "2", "t.py"], 2, "did you mean --num_processes?")
    case(["--cpu"], 2, "the following arguments are required: training_script")
    case(["--cpu", "--multi_gpu", "t.py"], 2, "You can only use one of `--cpu`, `--multi_gpu`")
    case(["--cpu", "missing_script.py"], 1, "training script 'missing_script.py' not found")
    case(["--config_file", "nope.yaml", "t.py"], 1, "The passed configuration file `nope.yaml` does not exist")
    case(["--config_file", "bad.yaml", "t.py"], 1, "bad.yaml:2:",
         files={"bad.yaml": "distributed_type: MULTI_GPU\n- num_processes: 2\n"})
    case(["--config_file", "keys.yaml", "t.py"], 1, "had unknown keys (['num_proceses'])",
         files={"keys.yaml": "distributed_type: MULTI_CPU\nnum_proceses: 2\n"})
    case(["--config_file", "types.yaml", "t.py"], 1, "types.yaml: num_processes must be an integer, not 'two'",
         files={"types.yaml": "distributed_type: MULTI_CPU\nnum_processes: two\n"})
    case(["--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank", "1", "t.py"], 1,
         "main_process_ip")
    case(["--cpu", "t.py"], 1, "no Python interpreter found",
         extra_env={"PATH": "/nonexistent", "PYTHON_EXEC": ""})

    case(["--cpu", "--grace_period", "nan", "t.py"], 2, "--grace_period must be a number of seconds (0 or more)")
    case(["--cpu", "--grace_period", "-1", "t.py"], 2, "--grace_period must be a number of seconds (0 or more)")
    case(["--config_file", tmp, "t.py"], 1, "is a folder; pass the YAML or JSON file in it")
    case(["--cpu", "--num_processes", "2", "--log_dir", "/proc/no/such/dir", "t.py"], 1,
         "cannot create the run folder in --log_dir /proc/no/such/dir")

    # Out of file descriptors for the captured streams: a launcher error naming the limit,
    # before any worker starts (was "internal error").
    r = launch(["--cpu", "--num_processes", "12", "--main_process_port", "0", "--tee", "3", "--log_dir",
                os.path.join(tmp, "logs"), "t.py"], cwd=tmp, env=env, timeout=30,
               preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40)))
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    check(r.returncode == 1 and last.startswith("accelerate: error: cannot open the worker log ")
          and last.endswith(": Too many open files (each captured stream holds files open: raise `ulimit -n`, "
                            "or capture fewer streams)"), f"[ulimit -n 40] one line naming the limit: {last!r}")
    check(not os.path.exists(os.path.join(tmp, "started")), "[ulimit -n 40] no worker started")

    # Usage errors are one line: the problem, and where to look.
    r = launch(["--num_processes", "two", "t.py"], cwd=tmp, env=env, timeout=30)
    check(len(r.stderr.strip().splitlines()) == 1, f"a usage error is one line ({r.stderr!r})")

    r = launch(["-h"], cwd=tmp, env=env)
    check(r.returncode == 0 and "Hardware Selection Arguments" in r.stdout and "--num_processes" in r.stdout,
          "launch -h prints grouped help, exit 0")
    r = launch([], cwd=tmp, env=env)
    check(r.returncode == 2, "launch with nothing is a usage error")
finish()
