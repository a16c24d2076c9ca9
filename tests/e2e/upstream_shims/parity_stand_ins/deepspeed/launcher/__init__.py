"""Stand-in (test_upstream_launcher_parity.py; see ../../README.md)."""
