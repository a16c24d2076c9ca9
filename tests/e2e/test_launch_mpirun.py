"""--mpirun_hostfile builds upstream's mpirun command (Open MPI and Intel MPI spellings).

The mpirun here is a stand-in script on PATH that reports its flavour for --version and
records the command line and environment it was started with; the real MPI is not needed
to check the command the launcher builds.
"""
import os

from lib import PYTHON, TempDir, check, clean_env, finish, launch

FAKE = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "%s"; exit 0; fi
echo "ARGS: $*" > "$RECORD"
env | grep -E "^(MASTER_ADDR|MASTER_PORT|ACCELERATE_USE_CPU)=" | sort >> "$RECORD"
"""

with TempDir() as tmp:
    with open(os.path.join(tmp, "t.py"), "w") as f:
        f.write("print('rank')\n")
    for flavour, version, expected in [
        ("openmpi", "mpirun (Open MPI) 4.1.4",
         f"ARGS: --hostfile H --npernode 4 -n 8 --bind-to socket {PYTHON} t.py a"),
        ("intel", "Intel(R) MPI Library for Linux* OS, Version 2021.10",
         f"ARGS: -f H -ppn 4 -n 8 {PYTHON} t.py a"),
    ]:
        bindir = os.path.join(tmp, flavour)
        os.makedirs(bindir)
        with open(os.path.join(bindir, "mpirun"), "w") as f:
            f.write(FAKE % version)
        os.chmod(os.path.join(bindir, "mpirun"), 0o755)
        record = os.path.join(tmp, flavour + ".txt")
        env = clean_env(tmp, RECORD=record)
        env["PATH"] = bindir + ":" + env["PATH"]
        r = launch(["--cpu", "--num_processes", "8", "--num_machines", "2", "--main_process_ip", "10.0.0.1",
                    "--main_process_port", "29555", "--mpirun_hostfile", "H", "t.py", "a"], cwd=tmp, env=env)
        check(r.returncode == 0, f"{flavour}: exit 0 (got {r.returncode}: {r.stderr[-300:]!r})")
        lines = open(record).read().splitlines() if os.path.exists(record) else []
        check(lines[:1] == [expected], f"{flavour}: command {lines[:1]} == {expected!r}")
        check("MASTER_ADDR=10.0.0.1" in lines and "MASTER_PORT=29555" in lines and "ACCELERATE_USE_CPU=True" in lines,
              f"{flavour}: simple-launcher environment passed to mpirun")

    env = clean_env(tmp)
    r = launch(["--cpu", "--mpirun_hostfile", "H", "t.py"], cwd=tmp, env=env)
    check(r.returncode == 1 and "mpirun or mpiexec were not found" in r.stderr, "no MPI on PATH: one clear line")
finish()
