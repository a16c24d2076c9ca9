// A process that outlives a launcher killed by SIGKILL just long enough to kill what its
// workers left behind.
#pragma once

#include <sys/types.h>

namespace acc::proc {

// PR_SET_PDEATHSIG ends each worker when the launcher dies, even by SIGKILL, but not the
// worker's own children (a data loader's workers, a subprocess the script started): they
// would live on, holding memory and GPUs, with nobody to stop them. The guard is a forked
// copy of the launcher, in a process group of its own, that holds no file of the job and
// blocks every signal but SIGKILL. It keeps the list of the workers' process groups the
// launcher sends it over a pipe; when that pipe reads end-of-file without a goodbye (the
// launcher is gone), it kills every group on the list with SIGKILL and exits.
class DeathGuard {
  public:
    // Forks the guard; if it cannot (a process limit), the guard is inactive and the job
    // runs as before.
    DeathGuard();
    // Says goodbye (nothing is killed) and reaps the guard.
    ~DeathGuard();
    DeathGuard(const DeathGuard&) = delete;
    DeathGuard& operator=(const DeathGuard&) = delete;

    // A worker's process group, to kill should the launcher die.
    void watch(pid_t group);
    // That group is empty, or as good as (everything in it has SIGKILL pending): off the
    // list, so that its id, once free, can be reused by anyone without risk.
    void forget(pid_t group);
    // The guard's pid (it is the launcher's child), -1 when inactive.
    pid_t pid() const { return m_pid; }

  private:
    void send(int op, pid_t group);

    pid_t m_pid = -1;
    int m_fd = -1;  // the pipe's write end
};

}  // namespace acc::proc
