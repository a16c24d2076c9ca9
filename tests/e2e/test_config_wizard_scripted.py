#!/usr/bin/env python3
"""`accelerate config` with answers piped in (one line per question: a menu's index, a field's text, an empty
line for the default) writes the same files as the terminal wizard; bad answers are asked again with a
message; input that ends early writes nothing and says which question was left."""
import os
import subprocess
import tempfile

import config_e2e_common as c

c.need_binary()
for case in c.paths():
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "out", "config.yaml")  # folder missing on purpose: it is created
        p = c.run_scripted(case, out, work)
        if not c.check(p.returncode == 0, f"{case['name']}: scripted wizard exit 0 (got {p.returncode}: {p.stderr.strip()})"):
            continue
        got = c.load(out)
        c.check(got == case["expect"], f"{case['name']}: scripted file equals upstream's {c.diff(got, case['expect'])}")

with tempfile.TemporaryDirectory() as work:
    # The README's example, into the default location ($HF_HOME/accelerate, created).
    p = subprocess.run([c.BIN, "config"], input="0\n4\n1\nno\nno\nno\nno\nno\n2\nall\nno\n1\n", capture_output=True,
                       text=True, env=c.clean_env(work), cwd=work, timeout=60)
    default = os.path.join(work, "hf", "accelerate", "default_config.yaml")
    c.check(p.returncode == 0 and os.path.isfile(default), "README example writes $HF_HOME/accelerate/default_config.yaml")
    c.check(c.load(default)["num_processes"] == 2 and c.load(default)["mixed_precision"] == "fp16",
            "README example: 2 GPUs, fp16")

    # Bad answers: out-of-range menu index, 'y' for yes/no, a non-integer: each asked again with a message.
    out = os.path.join(work, "bad.yaml")
    answers = "0\n42\n1\nabc\n2\n\n10.0.0.1\nx\n29501\ny\nno\n\n\n\n\n3\n0\n"
    p = subprocess.run([c.BIN, "config", "--config_file", out], input=answers,
                       capture_output=True, text=True, env=c.clean_env(work), cwd=work, timeout=60)
    c.check(p.returncode == 0, f"re-asked answers finish (exit {p.returncode}: {p.stderr.strip()})")
    c.check("Please enter a choice index from 0 to 10" in p.stdout, "bad menu index is asked again with a message")
    c.check("Please enter an integer." in p.stdout, "bad integer is asked again with a message")
    c.check("Please enter yes or no." in p.stdout, "'y' is not accepted for yes/no (as upstream), with a message")
    if c.check(os.path.exists(out), "re-asked answers: file written"):
        got = c.load(out)
        c.check(got.get("distributed_type") == "MULTI_CPU" and got.get("num_processes") == 3 and got.get("num_machines") == 2
                and got.get("main_process_port") == 29501 and got.get("same_network") is False, f"re-asked answers are the ones kept: {got}")

    # Input that ends early: exit 1, one line naming the question, nothing written, old file intact.
    old = os.path.join(work, "old.yaml")
    with open(old, "w") as f:
        f.write("distributed_type: MULTI_GPU\nnum_processes: 2\n")
    p = subprocess.run([c.BIN, "config", "--config_file", old], input="0\n4\n", capture_output=True, text=True,
                       env=c.clean_env(work), cwd=work, timeout=60)
    c.check(p.returncode == 1, f"early end of input: exit 1 (got {p.returncode})")
    c.check(len(p.stderr.strip().splitlines()) == 1 and "How many different machines" in p.stderr,
            f"early end of input: one line naming the question: {p.stderr.strip()!r}")
    c.check(open(old).read() == "distributed_type: MULTI_GPU\nnum_processes: 2\n", "early end of input: old file unchanged")

    # Upstream refuses multi-GPU with one GPU on one machine: one clear line, exit 1, nothing written.
    bad = os.path.join(work, "one_gpu.yaml")
    p = subprocess.run([c.BIN, "config", "--config_file", bad], input="0\n4\n1\n\n\n\n\n\n1\n", capture_output=True,
                       text=True, env=c.clean_env(work), cwd=work, timeout=60)
    c.check(p.returncode == 1 and "only using 1 GPU on a single machine" in p.stderr and not os.path.exists(bad),
            f"multi-GPU with 1 GPU is refused as upstream does ({p.returncode}: {p.stderr.strip()!r})")
    c.check("Traceback" not in p.stderr, "no stack trace")
c.finish()
