"""Stand-in for `safetensors`, which Debian 12 does not package.

Upstream accelerate imports it when `accelerate` is imported; test_upstream_accelerator.py
never saves or loads weights. Put on PYTHONPATH only when the real package is not
importable; any use fails loudly.
"""


def safe_open(*args, **kwargs):
    raise RuntimeError("safetensors stand-in (tests/e2e/upstream_shims): the real package is not installed")
