"""Script arguments reach each worker as torchrun passes them: `${local_rank}` and
`$local_rank` become the worker's local rank and `$$` a single `$` on the torchrun path
(and our multi-CPU path, which starts workers as torchrun would); the simple launcher
passes them as typed, as upstream's subprocess does. One `--` right after the script is
dropped, as upstream's argparse drops it."""
import json
import os

from lib import TempDir, check, clean_env, finish, launch

WORKER = """import json, os, sys
with open("argv.%s.json" % os.environ.get("LOCAL_RANK", "simple"), "w") as f:
    json.dump(sys.argv[1:], f)
"""

ARGS = ["--out=ckpt_${local_rank}", "$local_rank", "a$$b", "$HOME", "${local_rank", "--name=$LOCAL_RANK"]

with TempDir() as tmp:
    env = clean_env(tmp)
    with open(os.path.join(tmp, "t.py"), "w") as f:
        f.write(WORKER)

    def argv_of(rank):
        path = os.path.join(tmp, "argv.%s.json" % rank)
        value = json.load(open(path)) if os.path.exists(path) else None
        if os.path.exists(path):
            os.unlink(path)
        return value

    for mode in (["--multi_gpu"], ["--cpu"]):
        r = launch(mode + ["--num_processes", "2", "--main_process_port", "0", "t.py"] + ARGS, cwd=tmp, env=env)
        check(r.returncode == 0, f"{mode[0]}: exit 0 (got {r.returncode}: {r.stderr[-300:]!r})")
        for rank in (0, 1):
            want = [f"--out=ckpt_{rank}", str(rank), "a$b", "$HOME", "${local_rank", "--name=$LOCAL_RANK"]
            got = argv_of(rank)
            check(got == want, f"{mode[0]}: rank {rank} got {got} == {want}")

    r = launch(["--cpu", "t.py"] + ARGS, cwd=tmp, env=env)
    check(r.returncode == 0, f"simple launcher: exit 0 (got {r.returncode}: {r.stderr[-300:]!r})")
    got = argv_of("simple")
    check(got == ARGS, f"simple launcher: arguments as typed ({got})")

    # argparse drops one `--` among upstream's positionals: `train.py -- --lr 1` gives the
    # script `--lr 1` (a second `--`, or one further on, stays).
    r = launch(["--cpu", "t.py", "--", "--lr", "1", "--", "x"], cwd=tmp, env=env)
    got = argv_of("simple")
    check(got == ["--lr", "1", "--", "x"], f"`t.py -- --lr 1 -- x`: the first `--` dropped, as upstream ({got})")
    r = launch(["--multi_gpu", "--num_processes", "2", "--main_process_port", "0", "t.py", "--", "--", "a"],
               cwd=tmp, env=env)
    got = [argv_of(0), argv_of(1)]
    check(got == [["--", "a"], ["--", "a"]], f"torchrun path, `t.py -- -- a`: one `--` dropped ({got})")

    # After `--`, what looks like a Python option is the "script": upstream hands it to
    # Python, which reads it as its own option (`-m module`, `-c code`).
    with open(os.path.join(tmp, "as_module.py"), "w") as f:
        f.write(WORKER)
    r = launch(["--cpu", "--", "-m", "as_module", "x", "$local_rank"], cwd=tmp, env=env)
    got = argv_of("simple")
    check(r.returncode == 0 and got == ["x", "$local_rank"],
          f"`-- -m as_module x`: Python runs the module (exit {r.returncode}, {got}; {r.stderr[-200:]!r})")
    r = launch(["--cpu", "--num_processes", "2", "--main_process_port", "0", "--", "-m", "as_module", "$local_rank"],
               cwd=tmp, env=env)
    got = [argv_of(0), argv_of(1)]
    check(r.returncode == 0 and got == [["0"], ["1"]], f"multi-CPU, `-- -m as_module $local_rank`: {got}")

    # Both spellings of a variable set (no_proxy and NO_PROXY): on the torchrun path
    # upstream's patch_environment writes every key upper-cased in the environment's own
    # order, so the one later in the environment wins.
    dump = "import json, os\nwith open('env.%s.json' % os.environ['LOCAL_RANK'], 'w') as f: json.dump(dict(os.environ), f)\n"
    with open(os.path.join(tmp, "env_dump.py"), "w") as f:
        f.write(dump)
    for first, second, want in ((("no_proxy", "lower"), ("NO_PROXY", "upper"), "upper"),
                                (("NO_PROXY", "upper"), ("no_proxy", "lower"), "lower")):
        ordered = dict(env)
        ordered[first[0]] = first[1]
        ordered[second[0]] = second[1]
        r = launch(["--multi_gpu", "--num_processes", "2", "--main_process_port", "0", "env_dump.py"], cwd=tmp,
                   env=ordered)
        got = json.load(open(os.path.join(tmp, "env.1.json")))
        check(r.returncode == 0 and got.get("NO_PROXY") == want and got.get("no_proxy") == "lower",
              f"{first[0]} then {second[0]} in the environment: NO_PROXY={got.get('NO_PROXY')!r}, the later one ({want})")
finish()
