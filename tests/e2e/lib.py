"""Helpers shared by the end-to-end tests: run the built launcher like a user would."""
import os
import shutil
import subprocess
import sys
import tempfile

ACCELERATE = os.environ.get("ACCELERATE_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "accelerate")
SOURCE_DIR = os.environ.get("ACC_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
PYTHON = os.environ.get("ACC_TEST_PYTHON", "/usr/bin/python3")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)
    sys.exit(0)


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(125)


def has_torch():
    return subprocess.run([PYTHON, "-c", "import torch.distributed"], capture_output=True).returncode == 0


def clean_env(tmp, **extra):
    """The launcher's environment: no user config, our Python, nothing inherited by accident."""
    env = {
        "PATH": os.path.dirname(PYTHON) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": tmp,
        "HF_HOME": os.path.join(tmp, "hf"),
        "LANG": "C.UTF-8",
        "PYTHON_EXEC": PYTHON,
        "TMPDIR": tmp,
    }
    env.update(extra)
    return env


def launch(args, cwd, env, timeout=240, **kw):
    """`accelerate launch ARGS`."""
    return subprocess.run([ACCELERATE, "launch"] + args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, **kw)


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="acc_e2e_")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
