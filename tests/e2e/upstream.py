"""Shared by the opt-in tests that run upstream's own Python code beside ours
(test_upstream_accelerator.py, test_upstream_launcher_parity.py): where its source is, and
stand-ins for the packages it imports that Debian 12 lacks."""
import os
import shutil
import subprocess

from lib import PYTHON, has_torch, skip

SHIMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream_shims")
HOW = ("set ACC_UPSTREAM_SRC to the `src` folder of a huggingface/accelerate checkout (the reference is commit "
       "16cb6eb8), e.g. `mkdir -p /tmp/upacc && git -C accelerate archive 16cb6eb8 src | tar -x -C /tmp/upacc` "
       "then ACC_UPSTREAM_SRC=/tmp/upacc/src (see docs/DIFFERENCES.md)")


def source_or_skip(what):
    """ACC_UPSTREAM_SRC, once it and what running upstream needs are there; else the test is
    skipped (exit 125), saying how to run it. `what`: what the test compares against."""
    src = os.environ.get("ACC_UPSTREAM_SRC", "")
    if not src:
        skip(f"compares against {what}, which is not installed; to run it, " + HOW)
    if not os.path.isfile(os.path.join(src, "accelerate", "__init__.py")):
        skip(f"ACC_UPSTREAM_SRC={src} has no accelerate/__init__.py; " + HOW)
    if not has_torch():
        skip("no torch for the test Python")
    if subprocess.run([PYTHON, "-c", "import packaging.version"], capture_output=True).returncode != 0:
        skip("upstream accelerate needs `packaging` (apt-get install python3-packaging)")
    return src


def hub_stand_ins(folder):
    """Copies into `folder` the stand-ins for huggingface_hub and safetensors the test Python
    lacks (Debian 12 has neither): the path entries to add, none when both are installed."""
    for pkg in ("huggingface_hub", "safetensors"):
        if subprocess.run([PYTHON, "-c", f"import {pkg}"], capture_output=True).returncode != 0:
            shutil.copytree(os.path.join(SHIMS, pkg), os.path.join(folder, pkg))
    return [folder] if os.path.isdir(folder) else []
