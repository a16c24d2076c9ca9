"""Shared helpers for the tests/e2e/test_config_*.py scripts (not a test itself).

Environment: ACCELERATE_BIN (the built binary), ACC_SOURCE_DIR (the source tree).
Exit statuses of the tests: 0 pass, 1 fail, 125 skip.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

BIN = os.environ.get("ACCELERATE_BIN", "")
SRC = os.environ.get("ACC_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

failures = []


def need_binary():
    if not BIN or not os.access(BIN, os.X_OK):
        print("skip: ACCELERATE_BIN is not set to the built binary")
        sys.exit(125)


def check(cond, what):
    if cond:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what}")
        failures.append(what)
    return cond


def finish():
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def driver():
    """The conformance pseudo-terminal driver (tests/conformance/wizard.py)."""
    path = os.path.join(SRC, "tests", "conformance", "wizard.py")
    spec = importlib.util.spec_from_file_location("wizard_driver", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def paths():
    with open(os.path.join(SRC, "tests", "e2e", "config_wizard_paths.json")) as f:
        return json.load(f)


def clean_env(work, **extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": work, "HF_HOME": os.path.join(work, "hf"),
           "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def run_pty(case, out_path, work):
    """Answer `case` through a real pseudo-terminal. Returns (status, screen, problem)."""
    d = driver()
    s, _ = d.start(f"{BIN} config --config_file {out_path}", work)
    try:
        for i, (question, kind, value) in enumerate(case["steps"]):
            if not s.wait_for(question):
                tail = d.plain(s.out[s.mark:])[-600:]
                s.finish(2)
                return None, d.plain(s.out), f"step {i + 1}: question not asked: {question!r}; screen: {tail!r}"
            s.answer(kind, value)
        status = s.finish()
    except Exception as e:  # report, do not crash the test
        s.finish(2)
        return None, d.plain(s.out), f"driver error: {e}"
    return status, d.plain(s.out), None


def run_scripted(case, out_path, work):
    """The same answers, one line each, through a pipe."""
    answers = "".join(str(v) + "\n" for _, _, v in case["steps"])
    p = subprocess.run([BIN, "config", "--config_file", out_path], input=answers, capture_output=True, text=True,
                       env=clean_env(work), cwd=work, timeout=60)
    return p


def load(path):
    with open(path) as f:
        text = f.read()
    return json.loads(text) if path.endswith(".json") else yaml.safe_load(text)


SETTING = re.compile(r"^  (\w+)\s+(.*?)\s+\(([^)]*)\)$")


def dry_run(config_path, work, *extra):
    """`accelerate launch --config_file P --dry_run t.py`: (status, {setting: value text}, output)."""
    script = os.path.join(work, "t.py")
    with open(script, "w") as f:
        f.write("print('hi')\n")
    p = subprocess.run([BIN, "launch", "--config_file", config_path, *extra, "--dry_run", script],
                       capture_output=True, text=True, env=clean_env(work, PYTHON_EXEC=sys.executable), cwd=work,
                       timeout=60)
    settings = {}
    for line in p.stdout.splitlines():
        m = SETTING.match(line)
        if m:
            settings[m.group(1)] = m.group(2)
    return p.returncode, settings, p.stdout + p.stderr


def diff(got, want):
    keys = sorted(set(got or {}) | set(want or {}))
    return ", ".join(f"{k}: got {(got or {}).get(k, '<absent>')!r} want {(want or {}).get(k, '<absent>')!r}"
                     for k in keys if (got or {}).get(k, "<absent>") != (want or {}).get(k, "<absent>"))
