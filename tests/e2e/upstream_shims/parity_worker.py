"""Worker for test_upstream_launcher_parity.py: reports how it was started.

Copied into each case's folder as dump_env.py, dump_mod.py (for `-m`) and dump_exe (for
`--no_python`). Writes its argv, the interpreter's own argv (flags such as -u), the
executable, the working directory and the whole environment as JSON into its own new file
in $PARITY_DUMP_DIR, so workers started together cannot mix their output.
"""
import json
import os
import sys

record = {"argv": sys.argv, "orig_argv": getattr(sys, "orig_argv", None), "exe": sys.executable,
          "cwd": os.getcwd(), "env": dict(os.environ)}
path = os.path.join(os.environ["PARITY_DUMP_DIR"], "worker-%d.json" % os.getpid())
with open(path, "x") as f:
    json.dump(record, f)
