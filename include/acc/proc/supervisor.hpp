// Run a group of workers to completion: one wait point (signalfd + poll) for
// worker exits and the launcher's signals; teardown of every process group.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "acc/launch/exit_policy.hpp"
#include "acc/proc/spawn.hpp"

namespace acc::proc {

struct WorkerOutcome {
    pid_t pid = -1;
    launch::WaitStatus status;
    bool stopped_by_launcher = false;  // we signalled it before it ended
    int exec_errno = 0;
    std::chrono::steady_clock::time_point ended;
};

struct GroupOutcome {
    std::vector<WorkerOutcome> workers;          // index = position in the specs
    std::optional<size_t> first_failure;         // the worker that failed first
    std::optional<int> launcher_signal;          // SIGINT/SIGTERM/SIGHUP/SIGQUIT received
};

struct SupervisorOptions {
    std::chrono::milliseconds grace_period{30000};  // SIGTERM -> SIGKILL (torchrun: 30 s)
};

// Blocks the signals it handles for its lifetime (so they queue on its
// signalfd instead of killing the launcher) and makes the launcher a child
// subreaper, so orphaned grandchildren come back to it and can be stopped.
class Supervisor {
  public:
    explicit Supervisor(SupervisorOptions options);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Start every spec, wait until all have ended. On the first failure the
    // others' process groups get SIGTERM, then SIGKILL after the grace period.
    // A signal to the launcher is forwarded to every group; a second one kills.
    GroupOutcome run(const std::vector<ProcessSpec>& specs);

    // A signal that arrived between runs (e.g. during a restart), if any.
    std::optional<int> pending_signal();

  private:
    void handle_signal(int signo, GroupOutcome& out, std::vector<bool>& live, const std::vector<pid_t>& pids);
    void stop_all(int signo, GroupOutcome& out, const std::vector<bool>& live, const std::vector<pid_t>& pids);
    void reap(GroupOutcome& out, std::vector<bool>& live, const std::vector<pid_t>& pids, size_t& remaining);
    void wait_for_orphans(GroupOutcome& out, const std::vector<pid_t>& pids);
    void kill_orphans();
    // Our direct children right now (workers, and descendants reparented to us).
    static std::vector<pid_t> own_children();

    SupervisorOptions m_options;
    int m_signal_fd = -1;
    sigset_t m_old_mask{};
    std::optional<std::chrono::steady_clock::time_point> m_kill_deadline;
    int m_signals_seen = 0;
};

}  // namespace acc::proc
