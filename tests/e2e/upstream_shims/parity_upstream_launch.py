"""Runs upstream's `accelerate launch` for test_upstream_launcher_parity.py.

Usage: python3 parity_upstream_launch.py PATHS -- LAUNCH_ARGS...

PATHS (':'-separated: the upstream `src` folder, stand-ins) go in front of this process's
`sys.path` only, not into PYTHONPATH, so upstream's workers inherit the same environment
as ours. Then `accelerate.commands.launch` runs as `python -m` would run it.

One correction of ours, for Debian 12's torch 1.13 on Python 3.11: torchrun's parser for
`--tee`/`--redirects` (`Std.from_str`) finds its value by iterating the `Std` IntFlag, and
Python 3.11 iterates over single-bit members only, so "0" and "3" parse to None and the
agent fails. Where that happens, the values it validated are converted with `Std(int)`.
Nothing else of upstream's or torch's code is changed.
"""
import runpy
import sys

paths, sep, launch_args = sys.argv[1], sys.argv[2], sys.argv[3:]
assert sep == "--", "usage: parity_upstream_launch.py PATHS -- LAUNCH_ARGS..."
sys.path[0:0] = [p for p in paths.split(":") if p]

from torch.distributed.elastic.multiprocessing import api as _mp_api  # noqa: E402

if _mp_api.Std.from_str("3") is None:  # the Python 3.11 breakage described above
    _validated_from_str = _mp_api.Std.from_str

    def _from_str(vm):
        parsed = _validated_from_str(vm)  # raises ValueError on what torchrun refuses
        if isinstance(parsed, dict):
            return {int(k): _mp_api.Std(int(v)) for k, v in (item.split(":") for item in vm.split(","))}
        return _mp_api.Std(int(vm))

    _mp_api.Std.from_str = staticmethod(_from_str)

sys.argv = ["accelerate launch"] + launch_args
runpy.run_module("accelerate.commands.launch", run_name="__main__", alter_sys=True)
