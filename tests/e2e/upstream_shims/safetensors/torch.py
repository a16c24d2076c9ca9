"""Stand-in for `safetensors.torch` (see __init__.py): the names accelerate imports, failing on use."""


def _missing(*args, **kwargs):
    raise RuntimeError("safetensors stand-in (tests/e2e/upstream_shims): the real package is not installed")


load_model = load_file = save_file = _missing
