#!/usr/bin/env python3
"""`accelerate config default`, `env`, `test`, the top-level CLI and the hand-over of subcommands that only the
Python package implements (a stand-in `accelerate` package on PYTHONPATH plays the real one)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import config_e2e_common as c

c.need_binary()


def run(args, work, **env):
    return subprocess.run([c.BIN, *args], capture_output=True, text=True, env=c.clean_env(work, **env), cwd=work,
                          timeout=120)


NO_GPU = {"compute_environment": "LOCAL_MACHINE", "debug": False, "distributed_type": "NO", "downcast_bf16": False,
          "enable_cpu_affinity": False, "machine_rank": 0, "main_training_function": "main", "mixed_precision": "no",
          "num_machines": 1, "num_processes": 1, "rdzv_backend": "static", "same_network": False,
          "tpu_use_cluster": False, "tpu_use_sudo": False, "use_cpu": True}
GPU_HOST = os.path.exists("/dev/nvidiactl")

with tempfile.TemporaryDirectory() as work:
    # config default: JSON text whatever the name, folder created, never overwrites.
    p = run(["config", "default"], work)
    default = os.path.join(work, "hf", "accelerate", "default_config.yaml")
    c.check(p.returncode == 0 and p.stdout == f"accelerate configuration saved at {default}\n",
            f"config default: saved message ({p.stdout!r} {p.stderr!r})")
    text = open(default).read()
    if not GPU_HOST:
        c.check(text == json.dumps(NO_GPU, indent=2, sort_keys=True) + "\n",
                "config default on a host without GPUs: upstream's JSON, byte for byte")
    p = run(["config", "default", "--mixed_precision", "bf16"], work)
    c.check(p.returncode == 0 and "Configuration already exists at" in p.stdout and open(default).read() == text,
            "config default does not overwrite an existing file")
    p = run(["config", "default", "--config-file", "./deep//er/x.yaml", "--mixed-precision", "fp16"], work)
    c.check(p.returncode == 0 and p.stdout == "accelerate configuration saved at deep/er/x.yaml\n",
            f"config default: hyphen spellings, parent folders made, path printed as pathlib does ({p.stdout!r})")
    c.check(json.load(open(os.path.join(work, "deep/er/x.yaml")))["mixed_precision"] == "fp16", "--mixed_precision kept")
    p = run(["config", "default", "--mixed_precision", "fp8"], work)
    c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, f"fp8 rejected as a usage error: {p.stderr!r}")
    open(os.path.join(work, "t.py"), "w").write("print('hi')\n")
    p = run(["launch", "--dry_run", os.path.join(work, "t.py")], work, PYTHON_EXEC=sys.executable)  # the default file is read by launch
    c.check("config file:" in p.stdout and default in p.stdout, "launch reads the file `config default` wrote")

    # env: upstream's layout, the config file's keys in field order.
    p = run(["env"], work, PYTHON_EXEC=sys.executable)
    lines = p.stdout.splitlines()
    c.check(p.returncode == 0 and lines[:3] == ["", "Copy-and-paste the text below in your GitHub issue", ""],
            "env: upstream's header")
    for prefix in ("- `Accelerate` version: ", "- Platform: Linux-", "- Python version: 3.", "- PyTorch version: ",
                   "- System RAM: ", "- `Accelerate` default config:", "\t- compute_environment: LOCAL_MACHINE",
                   "\t- use_cpu: ", "\t- same_network: False"):
        c.check(any(l.startswith(prefix) for l in lines), f"env prints {prefix!r}")
    keys = [l[3:].split(":")[0] for l in lines if l.startswith("\t- ")]
    c.check(keys[:4] == ["compute_environment", "distributed_type", "mixed_precision", "use_cpu"],
            f"env: keys in dataclass field order ({keys[:4]})")
    try:
        import torch  # noqa: F401
        c.check(any(l == f"- PyTorch version: {torch.__version__}" for l in lines), "env: that Python's torch version")
    except ImportError:
        pass
    cfg = os.path.join(c.SRC, "configs", "dynamo_inductor.json")
    p = run(["env", "--config_file", cfg], work)
    c.check("- `Accelerate` config passed:" in p.stdout and
            "\t- dynamo_config: {'dynamo_backend': 'INDUCTOR', 'dynamo_mode': 'max-autotune', 'dynamo_use_dynamic': "
            "False, 'dynamo_use_fullgraph': True, 'dynamo_use_regional_compilation': False}" in p.stdout,
            "env --config_file: nested dicts printed as Python does")
    p = run(["env", "--config_file", "nope.yaml"], work)
    c.check(p.returncode == 1 and "does not exist" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
            f"env: missing file is one line, exit 1 ({p.stderr!r})")
    os.remove(default)
    p = run(["env"], work)
    c.check(p.returncode == 0 and "\tNot found" in p.stdout.splitlines(), "env without a config says Not found")

    # test without the Python package: one line saying what is missing.
    p = run(["test"], work, PYTHON_EXEC=sys.executable, PYTHONPATH=os.path.join(work, "empty"))
    missing = "import accelerate" in p.stderr and "pip install accelerate" in p.stderr
    c.check(p.returncode == 1 and missing and len(p.stderr.strip().splitlines()) == 1,
            f"test without the package: one clear line, exit 1 ({p.stderr!r})")

    # A stand-in accelerate package: test runs its test_script.py through our own launcher.
    pkg = os.path.join(work, "fakepkg", "accelerate")
    os.makedirs(os.path.join(pkg, "test_utils", "scripts"))
    os.makedirs(os.path.join(pkg, "commands"))
    open(os.path.join(pkg, "__init__.py"), "w").write("__version__ = '9.9.9.fake'\n")
    open(os.path.join(pkg, "commands", "__init__.py"), "w").write("")
    open(os.path.join(pkg, "commands", "accelerate_cli.py"), "w").write(
        "import sys\nprint('python cli got', sys.argv[1:])\nsys.exit(3)\n")
    script = os.path.join(pkg, "test_utils", "scripts", "test_script.py")
    # One write per line: workers run under `python -u`, where print() writes the
    # newline separately and two ranks' lines could interleave.
    open(script, "w").write("import os, sys\n"
                            "sys.stdout.write(f\"rank {os.environ.get('RANK')} of {os.environ.get('WORLD_SIZE')}\\n\")\n"
                            "sys.stderr.write('to stderr\\n')\n"
                            "sys.exit(int(os.environ.get('FAKE_FAIL', '0')))\n")
    fake = {"PYTHON_EXEC": sys.executable, "PYTHONPATH": os.path.join(work, "fakepkg")}
    cpu2 = os.path.join(c.SRC, "configs", "cpu_ddp_2.yaml")
    p = run(["test", "--config_file", cpu2], work, **fake)
    c.check(p.returncode == 0 and p.stdout.startswith(f"\nRunning:  accelerate launch --config_file={cpu2} {script}\n"),
            f"test: shows the command ({p.returncode}: {p.stdout[:200]!r} {p.stderr[-300:]!r})")
    c.check("stdout: rank 0 of 2" in p.stdout and "stdout: rank 1 of 2" in p.stdout,
            "test: the script ran on 2 CPU workers through our launcher with that config, output prefixed")
    c.check("stderr: to stderr" in p.stderr, "test: worker stderr prefixed on stderr")
    c.check(p.stdout.rstrip().endswith("Test is a success! You are ready for your distributed training!"),
            "test: upstream's success line")
    p = run(["test", "--config_file", cpu2], work, FAKE_FAIL="1", **fake)
    c.check(p.returncode == 1 and "failed with returncode" in p.stderr and
            "The combined stderr from workers follows:" in p.stderr and "Traceback" not in p.stderr.split("follows:")[0],
            f"test: a failing script is reported, exit 1 ({p.stderr[-300:]!r})")
    p = run(["env"], work, **fake)
    c.check("- `Accelerate` version: 9.9.9.fake" in p.stdout, "env: the Python package's version when importable")

    # Subcommands only the Python package has: handed over with their arguments, or a clear error.
    p = run(["estimate-memory", "bert-base-cased", "--library_name", "transformers"], work, **fake)
    c.check(p.returncode == 3 and "python cli got ['estimate-memory', 'bert-base-cased', '--library_name', "
            "'transformers']" in p.stdout, f"estimate-memory handed to the Python package ({p.stdout!r} {p.stderr!r})")
    for cmd in ("merge-weights", "tpu-config", "to-fsdp2"):
        p = run([cmd, "-h"], work, PYTHON_EXEC=sys.executable, PYTHONPATH=os.path.join(work, "empty"))
        c.check(p.returncode == 1 and f"`accelerate {cmd}`" in p.stderr and "pip install accelerate" in p.stderr and
                len(p.stderr.strip().splitlines()) == 1, f"{cmd} without the package: one clear line ({p.stderr!r})")

    # Top level: help on stdout exit 1 with no command, exit 0 with -h; bad command exit 2.
    p = run([], work)
    c.check(p.returncode == 1 and p.stdout.startswith("usage: accelerate <command> [<args>]") and
            "{config,estimate-memory,env,launch,merge-weights,tpu-config,test,to-fsdp2}" in p.stdout,
            "no command: upstream's help on stdout, exit 1")
    c.check(run(["-h"], work).returncode == 0, "-h: exit 0")
    p = run(["confg"], work)
    c.check(p.returncode == 2 and "invalid choice: 'confg'" in p.stderr and "did you mean 'config'" in p.stderr,
            "unknown command: exit 2 with a suggestion")
    for args, needle in ((["config", "-h"], "Launches a series of prompts"),
                         (["config", "default", "-h"], "--mixed_precision {no,fp16,bf16}"),
                         (["config", "update", "-h"], "The path to the config file to update."),
                         (["env", "-h"], "usage: accelerate <command> [<args>] env [-h]"),
                         (["test", "-h"], "usage: accelerate <command> [<args>] test [-h]")):
        p = run(args, work)
        c.check(p.returncode == 0 and needle in p.stdout, f"{' '.join(args)}: help, exit 0")
    p = run(["config", "--bogus"], work)
    c.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--bogus" in p.stderr,
            f"config --bogus: one line, exit 2 ({p.stderr!r})")
    p = run(["env", "extra"], work)
    c.check(p.returncode == 2 and "extra" in p.stderr, f"env extra: usage error ({p.stderr!r})")
    p = run(["env", "--foo", "1", "--bar"], work)
    c.check(p.returncode == 2 and "unrecognized arguments: --foo 1 --bar (" in p.stderr,
            f"env: unrecognized arguments named in the order typed ({p.stderr!r})")

    # The config, default, update, env and test parsers take unique prefixes of their flags, as
    # upstream's argparse parsers do; a prefix of both spellings of one flag is ambiguous there too.
    p = run(["config", "default", "--config_f", "abbrev.json", "--mixed_", "bf16"], work)
    c.check(p.returncode == 0 and json.load(open(os.path.join(work, "abbrev.json")))["mixed_precision"] == "bf16",
            f"config default --config_f --mixed_: written with bf16 ({p.stderr!r})")
    p = run(["config", "update", "--config-f", "abbrev.json"], work)
    c.check(p.returncode == 0 and "Successfully updated the configuration file at abbrev.json" in p.stdout,
            f"config update --config-f ({p.stdout!r} {p.stderr!r})")
    p = run(["config", "--config", "x.yaml", "default"], work)
    c.check(p.returncode == 2 and "ambiguous option: --config could match --config_file, --config-file" in p.stderr
            and not os.path.exists(os.path.join(work, "x.yaml")), f"config --config: ambiguous, exit 2 ({p.stderr!r})")
    p = run(["config", "default", "--mixed", "bf16"], work)
    c.check(p.returncode == 2 and "--mixed could match --mixed_precision, --mixed-precision" in p.stderr,
            f"config default --mixed: ambiguous, exit 2 ({p.stderr!r})")
    p = run(["launch", "--num_proc", "2", "t.py"], work)
    c.check(p.returncode == 2, f"launch takes no prefixes, as upstream (allow_abbrev=False) ({p.stderr!r})")

    # A repeated option: the last counts, as in argparse. Usage errors in argparse's words.
    p = run(["config", "default", "--config_file", "first.json", "--config_file", "last.json",
             "--mixed_precision", "fp16", "--mixed_precision", "bf16"], work)
    c.check(p.returncode == 0 and not os.path.exists(os.path.join(work, "first.json")) and
            json.load(open(os.path.join(work, "last.json")))["mixed_precision"] == "bf16",
            f"config default, options repeated: the last ones count ({p.stderr!r})")
    for args, needle in ((["config", "default", "--mixed_precision", "fp8"],
                          "argument --mixed_precision/--mixed-precision: invalid choice: 'fp8' (choose from 'no', 'fp16', 'bf16')"),
                         (["config", "default", "--config_file"],
                          "argument --config_file/--config-file: expected one argument"),
                         (["env", "--config_file"], "argument --config_file/--config-file: expected one argument"),
                         (["config", "bogus"],
                          "argument subcommand: invalid choice: 'bogus' (choose from 'default', 'update')"),
                         # A value for -h is an error, not a request for help, and writes nothing.
                         (["config", "default", "--help=0", "--config_file", "helped.json"],
                          "argument -h/--help: ignored explicit argument '0'"),
                         (["env", "-hx"], "argument -h/--help: ignored explicit argument 'x'"),
                         (["--help=1"], "argument -h/--help: ignored explicit argument '1'"),
                         (["launch", "--help=0", "t.py"], "argument -h/--help: ignored explicit argument '0'")):
        p = run(args, work)
        c.check(p.returncode == 2 and needle in p.stderr and len(p.stderr.strip().splitlines()) == 1,
                f"{' '.join(args)}: {needle!r}, one line, exit 2 ({p.stderr!r})")
    c.check(not os.path.exists(os.path.join(work, "helped.json")), "config default --help=0 wrote no file")

    # `config update` on a file its user may not write is refused, as upstream's open(path, "w")
    # refuses it, though the folder would allow replacing it by rename; the file is left as it was.
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv:
        shared = tempfile.mkdtemp(prefix="acc_ro_")
        os.chmod(shared, 0o777)
        ro = os.path.join(shared, "ro.yaml")
        with open(ro, "w") as f:
            f.write("distributed_type: 'NO'\nnum_processes: 1\n")
        os.chmod(ro, 0o444)
        p = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", c.BIN, "config",
                            "update", "--config_file", ro], capture_output=True, text=True,
                           env={"PATH": os.environ.get("PATH", ""), "HF_HOME": shared}, cwd=shared)
        st = os.stat(ro)
        c.check(p.returncode == 1 and "cannot write" in p.stderr and "Permission denied" in p.stderr and
                st.st_uid == 0 and open(ro).read() == "distributed_type: 'NO'\nnum_processes: 1\n",
                f"config update of a read-only file: refused, file untouched ({p.returncode}, {p.stderr!r})")
        # Root updating another user's file: the file stays theirs.
        os.chmod(ro, 0o644)
        os.chown(ro, 65534, -1)
        p = run(["config", "update", "--config_file", ro], work)
        c.check(p.returncode == 0 and os.stat(ro).st_uid == 65534,
                f"config update keeps the file's owner ({p.stderr!r}, uid {os.stat(ro).st_uid})")
        shutil.rmtree(shared)
c.finish()
