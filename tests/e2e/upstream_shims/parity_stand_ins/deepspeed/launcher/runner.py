"""Stand-in (test_upstream_launcher_parity.py; see ../../README.md): the one name upstream's
`deepspeed_launcher` imports. It is used only for multi-machine jobs through the
`deepspeed` CLI, which the parity cases do not run."""
DEEPSPEED_ENVIRONMENT_NAME = ".deepspeed_env"
