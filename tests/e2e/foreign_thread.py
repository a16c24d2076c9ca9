"""A stand-in for the thread libcuda starts in the launcher, for tests without a GPU.

On a GPU machine the launcher probes NVML, which loads libcuda, which starts a thread that
outlives the probe with no signal blocked (seen on an H100). `build(folder)` compiles a
library that does the same when preloaded: its constructor starts an idle thread with
nothing blocked before main() runs, and takes itself out of LD_PRELOAD so the workers do
not get it. None without a C compiler.
"""
import os
import shutil
import subprocess

SOURCE = r'''
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static void *idle(void *arg) {
    for (;;) pause();
    return arg;
}

__attribute__((constructor)) static void start_foreign_thread(void) {
    unsetenv("LD_PRELOAD");
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);  /* as libcuda's thread: nothing blocked */
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    pthread_detach(t);
}
'''


def build(folder):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    source, lib = os.path.join(folder, "foreign_thread.c"), os.path.join(folder, "foreign_thread.so")
    with open(source, "w") as f:
        f.write(SOURCE)
    subprocess.run([cc, "-shared", "-fPIC", "-pthread", "-o", lib, source], check=True)
    return lib


def unblocked_threads(pid):
    """How many threads of `pid` block no signal at all (SigBlk 0): the stand-in's."""
    count = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                if any(line.split() == ["SigBlk:", "0000000000000000"] for line in f):
                    count += 1
        except OSError:
            pass
    return count
