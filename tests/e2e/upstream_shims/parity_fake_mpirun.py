"""A fake `mpirun` for test_upstream_launcher_parity.py.

Copied as `mpirun` into a folder named mpi_open or mpi_intel that the case puts first on
PATH. Answers `--version` as that MPI flavour does (the launchers pick the option
spelling by it), records its whole argv (its own path first) into $PARITY_DUMP_DIR/mpirun.json, then skips its own
options and runs the command once, in place of the ranks a real mpirun would start.
"""
import json
import os
import sys

flavour = os.path.basename(os.path.dirname(os.path.abspath(sys.argv[0])))
args = sys.argv[1:]
if args == ["--version"]:
    print("Intel(R) MPI Library for Linux* OS, Version 2021.10 Build 20230619" if flavour == "mpi_intel"
          else "mpirun (Open MPI) 4.1.4\n\nReport bugs to http://www.open-mpi.org/community/help/")
    sys.exit(0)
with open(os.path.join(os.environ["PARITY_DUMP_DIR"], "mpirun.json"), "x") as f:
    json.dump(sys.argv, f)
with_value = {"--hostfile", "-f", "--npernode", "-ppn", "-n", "-np", "--bind-to"}
i = 0
while i < len(args) and args[i] in with_value:
    i += 2
os.execvp(args[i], args[i:])
