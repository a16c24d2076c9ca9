"""Stand-in for `torchao` (test_upstream_launcher_parity.py; see ../README.md): importable,
with a version upstream accepts (>= 0.6.1, read from the .dist-info metadata)."""
__version__ = "0.7.0"
