"""Stand-in for `deepspeed` (test_upstream_launcher_parity.py; see ../README.md): only
what upstream's launcher reads. Any real use fails, as nothing else is defined."""
__version__ = "0.16.0"
