"""The GPU count through the real NVML path, with a stand-in NVML library (no GPU here).

The launcher loads libnvidia-ml.so.1 with dlopen only when a driver is there
(/dev/nvidiactl or /proc/driver/nvidia). Here a private mount namespace shows an empty
/proc/driver/nvidia, and LD_LIBRARY_PATH a small libnvidia-ml.so.1 built by this test: it
reports FAKE_NVML_N GPUs with UUIDs GPU-00aa-fake, GPU-01aa-fake, ..., and, as libcuda does
on a real machine, its nvmlInit starts a thread that outlives the probe. Checked:
- the count, narrowed by CUDA_VISIBLE_DEVICES (indices, UUID prefixes, an ambiguous prefix,
  a device named twice), in `launch --dry_run`, in the multi-GPU default, in `env`;
- the thread NVML started blocks every signal (the probe runs on a thread of its own that
  blocks them all), so SIGTERM reaches the launcher and every worker (on an H100, before
  the fix, libcuda's thread took it and the launcher died of it);
- a driver slow to answer does not make the launcher deaf: Ctrl-C ends it at once.
Skipped where no mount namespace can be made (unshare -m) or no C compiler is found.
"""
import os
import shutil
import signal
import subprocess
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish, skip

FAKE_NVML = r'''
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *idle(void *arg) {
    const char *record = getenv("FAKE_NVML_RECORD");
    if (record) {
        sigset_t mask;
        pthread_sigmask(SIG_SETMASK, NULL, &mask);
        FILE *f = fopen(record, "w");
        fprintf(f, "%d %d\n", sigismember(&mask, SIGTERM), sigismember(&mask, SIGINT));
        fclose(f);
    }
    for (;;) pause();
    return arg;
}
static unsigned count(void) { const char *s = getenv("FAKE_NVML_N"); return s ? (unsigned)atoi(s) : 2; }
int nvmlInit_v2(void) {
    const char *s = getenv("FAKE_NVML_SLEEP");
    if (s) sleep((unsigned)atoi(s));
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);  /* as libcuda's: it outlives the probe */
    pthread_detach(t);
    return 0;
}
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned *c) { *c = count(); return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h) { *h = (void *)(long)(i + 1); return 0; }
int nvmlDeviceGetName(void *h, char *b, unsigned n) { snprintf(b, n, "Fake GPU %ld", (long)h - 1); return 0; }
int nvmlDeviceGetUUID(void *h, char *b, unsigned n) { snprintf(b, n, "GPU-%02ldaa-fake", (long)h - 1); return 0; }
int nvmlSystemGetDriverVersion(char *b, unsigned n) { snprintf(b, n, "999.0"); return 0; }
'''

WORKER = r'''
import os, signal, sys, time
out, rank = sys.argv[1], os.environ["RANK"]
def on(signo, frame):
    open(os.path.join(out, "SIGTERM." + rank), "w").close()
    os._exit(143)
signal.signal(signal.SIGTERM, on)
open(os.path.join(out, "ready." + rank), "w").close()
for _ in range(2400):  # short sleeps: a handler due before a long one began would wait it out
    time.sleep(0.05)
'''

cc = shutil.which("cc") or shutil.which("gcc")
if not cc:
    skip("needs a C compiler to build the stand-in NVML library")
if not os.path.isdir("/proc/driver") or not shutil.which("unshare"):
    skip("needs /proc/driver and unshare(1) to show a stand-in driver")


def exit_status(proc, timeout):
    """proc's exit status, or "timeout" (and it is killed) when it runs past `timeout` s."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "timeout"


def num_processes(dry_run_output):
    for line in dry_run_output.splitlines():
        words = line.split()
        if words[:1] == ["num_processes"]:
            return words[1]
    return None


with TempDir() as tmp:
    libdir = os.path.join(tmp, "nvml")
    os.makedirs(libdir)
    with open(os.path.join(libdir, "fake_nvml.c"), "w") as f:
        f.write(FAKE_NVML)
    # nodelete: the thread's code must stay mapped after dlclose, as libcuda's does.
    subprocess.run([cc, "-shared", "-fPIC", "-pthread", "-Wl,-z,nodelete", "-o",
                    os.path.join(libdir, "libnvidia-ml.so.1"), os.path.join(libdir, "fake_nvml.c")], check=True)
    driver = os.path.join(tmp, "driver")
    os.makedirs(os.path.join(driver, "nvidia"))
    with open(os.path.join(tmp, "worker.py"), "w") as f:
        f.write(WORKER)
    open(os.path.join(tmp, "t.py"), "w").close()
    base = clean_env(tmp, LD_LIBRARY_PATH=libdir)

    def with_driver(args):
        """args, run in a mount namespace of its own where /proc/driver holds `nvidia`."""
        return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /proc/driver && exec "$@"', driver] + args

    probe = subprocess.run(with_driver(["true"]), capture_output=True, text=True)
    if probe.returncode != 0:
        skip(f"cannot make a mount namespace here ({probe.stderr.strip()[-200:]})")

    def dry_run(n, visible=None, extra=()):
        env = dict(base, FAKE_NVML_N=str(n))
        if visible is not None:
            env["CUDA_VISIBLE_DEVICES"] = visible
        return subprocess.run(with_driver([ACCELERATE, "launch", "--dry_run", *extra, "t.py"]), cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=60)

    for n, visible, expected in ((2, None, "2"), (4, None, "4"), (2, "1", "1"), (2, "1,0", "2"), (2, "0,5,1", "1"),
                                 (2, "GPU-01", "1"), (2, "GPU-01aa-fake,GPU-00", "2"), (2, "GPU-0", "0"),
                                 (2, "GPU-00aa-fake,GPU-zz,GPU-01aa-fake", "1"), (2, "1,1", "0"), (2, "", "0"),
                                 (2, "0000000001", "1"), (1, "0000000001", "0")):
        r = dry_run(n, visible)
        got = num_processes(r.stdout)
        check(r.returncode == 0 and got == expected,
              f"{n} GPUs, CUDA_VISIBLE_DEVICES={visible!r}: num_processes {expected} (got {got})" +
              ("" if got == expected else f"; {r.stderr[-300:]!r}"))

    r = dry_run(2, extra=("--num_processes", "2"))
    on = "More than one GPU was found, enabling multi-GPU training." in r.stderr and "multi_gpu" in r.stdout
    check(on, "2 GPUs, --num_processes 2: multi-GPU is turned on, with upstream's warning" +
          ("" if on else f" ({r.stderr[-300:]!r})"))
    env = dict(base, FAKE_NVML_N="3", CUDA_VISIBLE_DEVICES="2,0")
    r = subprocess.run(with_driver([ACCELERATE, "env"]), cwd=tmp, env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "- NVIDIA GPUs (NVML): 2" in r.stdout, f"`accelerate env`: the 2 of 3 GPUs "
          f"CUDA_VISIBLE_DEVICES=2,0 shows ({[line for line in r.stdout.splitlines() if 'GPU' in line]})")

    # A stop signal with NVML's thread beside the launcher: the launcher takes it, every
    # worker gets SIGTERM, and the thread NVML started blocks every signal.
    out = os.path.join(tmp, "out")
    os.makedirs(out)
    record = os.path.join(tmp, "thread_mask")
    env = dict(base, FAKE_NVML_N="2", FAKE_NVML_RECORD=record)
    proc = subprocess.Popen(with_driver([ACCELERATE, "launch", "--main_process_port", "0", "worker.py", out]),
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    while time.monotonic() < end and not all(os.path.exists(os.path.join(out, f"ready.{r}")) for r in (0, 1)):
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    started = proc.poll() is None
    check(started, "2 GPUs, no config: two workers start (multi-GPU default)")
    if started:
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
    rc = exit_status(proc, 60)
    err = proc.stderr.read()
    mask = open(record).read().split() if os.path.exists(record) else []
    check(mask == ["1", "1"], f"the thread NVML started blocks SIGTERM and SIGINT (blocked: {mask})")
    check(rc == 143, f"SIGTERM: the launcher takes it and exits 143 (exit {rc})" +
          ("" if rc == 143 else f"; {err[-300:]!r}"))
    seen = sorted(name for name in os.listdir(out) if name.startswith("SIGTERM"))
    check(seen == ["SIGTERM.0", "SIGTERM.1"], f"SIGTERM: both workers got it ({seen})")

    # A driver slow to answer: Ctrl-C during the probe ends the launcher at once.
    env = dict(base, FAKE_NVML_N="2", FAKE_NVML_SLEEP="20")
    proc = subprocess.Popen(with_driver([ACCELERATE, "launch", "--dry_run", "t.py"]), cwd=tmp, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rc = exit_status(proc, 15)
    took = time.monotonic() - sent
    check(rc == -signal.SIGINT and took < 1, f"Ctrl-C while NVML is slow to answer ends the launcher at once "
          f"(exit {rc} after {took:.2f} s)")

finish()
