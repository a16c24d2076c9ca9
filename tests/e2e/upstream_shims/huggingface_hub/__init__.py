"""Stand-in for `huggingface_hub`, which Debian 12 does not package.

Upstream accelerate imports it when its command-line package is imported;
test_upstream_accelerator.py never talks to the Hub. Put on PYTHONPATH only when the
real package is not importable; any use fails loudly.
"""


def model_info(*args, **kwargs):
    raise RuntimeError("huggingface_hub stand-in (tests/e2e/upstream_shims): the real package is not installed")
