"""--dry_run prints every setting with its source and each rank's command, and starts nothing."""
import os

from lib import TempDir, check, clean_env, finish, launch

with TempDir() as tmp:
    env = clean_env(tmp)
    with open(os.path.join(tmp, "t.py"), "w") as f:
        f.write("open('started', 'w').write('x')\n")
    os.makedirs(os.path.join(tmp, "hf", "accelerate"))
    with open(os.path.join(tmp, "hf", "accelerate", "default_config.yaml"), "w") as f:
        f.write("compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nmixed_precision: fp16\n"
                "num_machines: 1\nnum_processes: 2\nuse_cpu: false\n")
    r = launch(["--dry_run", "--num_processes", "3", "--main_process_port", "29777", "t.py", "--lr", "1"],
               cwd=tmp, env=env)
    check(r.returncode == 0, f"exit 0 (got {r.returncode}: {r.stderr!r})")
    out = r.stdout
    check("config file: " + os.path.join(tmp, "hf", "accelerate", "default_config.yaml") in out, "names the config")
    check("num_processes                    3                    (flag)" in out, "num_processes from the flag")
    check("mixed_precision                  'fp16'               (config file)" in out, "precision from config")
    check("multi_gpu                        True                 (config file)" in out, "multi_gpu from config")
    check(out.count("  command: ") == 3, "three ranks listed")
    check("rank 2 (local_rank 2):" in out and "RANK=2" in out and "MASTER_PORT=29777" in out, "rank 2's environment")
    check("-u t.py --lr 1" in out, "the worker command keeps the script arguments")
    check(not os.path.exists(os.path.join(tmp, "started")), "nothing started")
finish()
