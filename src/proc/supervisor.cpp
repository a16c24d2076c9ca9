#include "acc/proc/supervisor.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <set>
#include <fstream>
#include <system_error>

#include "acc/util/strings.hpp"

namespace acc::proc {

namespace {

const int k_handled_signals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT};

launch::WaitStatus decode(int status) {
    launch::WaitStatus ws;
    if (WIFEXITED(status)) {
        ws.exited = true;
        ws.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        ws.exited = false;
        ws.signal = WTERMSIG(status);
        ws.core_dumped = WCOREDUMP(status);
    }
    return ws;
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options) : m_options(options) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : k_handled_signals) {
        sigaddset(&mask, s);
    }
    if (sigprocmask(SIG_BLOCK, &mask, &m_old_mask) != 0) {
        throw std::system_error(errno, std::generic_category(), "sigprocmask");
    }
    m_signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m_signal_fd < 0) {
        throw std::system_error(errno, std::generic_category(), "signalfd");
    }
    // Orphaned grandchildren (a worker's daemonized helpers) are reparented to
    // us instead of init, so the final sweep can find and stop them.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

Supervisor::~Supervisor() {
    kill_orphans();
    if (m_signal_fd >= 0) {
        close(m_signal_fd);
    }
    sigprocmask(SIG_SETMASK, &m_old_mask, nullptr);
}

std::optional<int> Supervisor::pending_signal() {
    signalfd_siginfo info{};
    std::optional<int> found;
    while (read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo != SIGCHLD) {
            found = static_cast<int>(info.ssi_signo);
        }
    }
    return found;
}

void Supervisor::stop_all(int signo, GroupOutcome& out, const std::vector<bool>& live,
                          const std::vector<pid_t>& pids) {
    for (size_t i = 0; i < pids.size(); ++i) {
        if (live[i]) {
            // The whole group: data-loader children go too.
            killpg(pids[i], signo);
            out.workers[i].stopped_by_launcher = true;
        }
    }
}

void Supervisor::handle_signal(int signo, GroupOutcome& out, std::vector<bool>& live,
                               const std::vector<pid_t>& pids) {
    ++m_signals_seen;
    if (!out.launcher_signal) {
        out.launcher_signal = signo;
    }
    if (m_signals_seen > 1) {
        // A second Ctrl-C means now.
        stop_all(SIGKILL, out, live, pids);
        return;
    }
    stop_all(signo, out, live, pids);
    m_kill_deadline = std::chrono::steady_clock::now() + m_options.grace_period;
}

void Supervisor::reap(GroupOutcome& out, std::vector<bool>& live, const std::vector<pid_t>& pids,
                      size_t& remaining) {
    while (true) {
        siginfo_t info{};
        // WNOWAIT: look without reaping, so the pid (and group id) cannot be
        // reused while we kill what is left of the worker's group.
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
            return;
        }
        pid_t pid = info.si_pid;
        size_t idx = pids.size();
        for (size_t i = 0; i < pids.size(); ++i) {
            if (pids[i] == pid && live[i]) {
                idx = i;
            }
        }
        if (idx < pids.size() && !m_kill_deadline) {
            // Leftovers of a worker that ended on its own. While the job is being
            // stopped they are spared: they got the stop signal with their group and
            // have until the deadline (see wait_for_orphans).
            killpg(pid, SIGKILL);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (idx == pids.size()) {
            continue;  // a reparented grandchild
        }
        live[idx] = false;
        --remaining;
        auto& w = out.workers[idx];
        w.status = decode(status);
        w.ended = std::chrono::steady_clock::now();
        if (!w.status.success() && !out.first_failure && !out.launcher_signal) {
            out.first_failure = idx;
            w.stopped_by_launcher = false;
            stop_all(SIGTERM, out, live, pids);
            m_kill_deadline = std::chrono::steady_clock::now() + m_options.grace_period;
        }
    }
}

GroupOutcome Supervisor::run(const std::vector<ProcessSpec>& specs) {
    GroupOutcome out;
    out.workers.resize(specs.size());
    std::vector<pid_t> pids(specs.size(), -1);
    std::vector<bool> live(specs.size(), false);
    size_t remaining = 0;
    m_kill_deadline.reset();
    m_signals_seen = 0;

    for (size_t i = 0; i < specs.size(); ++i) {
        if (auto sig = pending_signal()) {
            handle_signal(*sig, out, live, pids);
            break;
        }
        Spawned s = spawn_process(specs[i]);
        pids[i] = s.pid;
        live[i] = true;
        ++remaining;
        out.workers[i].pid = s.pid;
        out.workers[i].exec_errno = s.exec_errno;
    }

    while (remaining > 0) {
        reap(out, live, pids, remaining);
        if (remaining == 0) {
            break;
        }
        int timeout_ms = -1;
        if (m_kill_deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*m_kill_deadline -
                                                                              std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                stop_all(SIGKILL, out, live, pids);
                m_kill_deadline.reset();
                continue;
            }
            timeout_ms = static_cast<int>(left.count()) + 1;
        }
        pollfd pfd{m_signal_fd, POLLIN, 0};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        signalfd_siginfo info{};
        while (read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            if (info.ssi_signo != SIGCHLD) {
                handle_signal(static_cast<int>(info.ssi_signo), out, live, pids);
            }
        }
    }
    if (m_kill_deadline) {
        wait_for_orphans(out, pids);
    }
    kill_orphans();
    return out;
}

void Supervisor::wait_for_orphans(GroupOutcome& out, const std::vector<pid_t>& pids) {
    // Descendants that outlived their worker were reparented to us (subreaper).
    // Members of a worker's group already got the stop signal with it; the others
    // (their own group or session) get it now. All have until the deadline, unless
    // a further signal to the launcher says "now".
    const int stop_signal = out.launcher_signal.value_or(SIGTERM);
    std::set<pid_t> signalled;
    while (true) {
        while (waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        std::vector<pid_t> orphans = own_children();
        if (orphans.empty()) {
            return;
        }
        for (pid_t pid : orphans) {
            if (signalled.insert(pid).second) {
                pid_t group = getpgid(pid);
                if (std::find(pids.begin(), pids.end(), group) == pids.end()) {
                    kill(pid, stop_signal);
                }
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*m_kill_deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;
        }
        // SIGCHLD from an orphan arrives on the signalfd; the timeout also covers a
        // descendant reparented without one of our children exiting.
        pollfd pfd{m_signal_fd, POLLIN, 0};
        int r = poll(&pfd, 1, static_cast<int>(std::min<long>(left.count() + 1, 50)));
        if (r < 0 && errno != EINTR) {
            return;
        }
        signalfd_siginfo info{};
        while (read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            if (info.ssi_signo != SIGCHLD) {
                ++m_signals_seen;
                if (!out.launcher_signal) {
                    out.launcher_signal = static_cast<int>(info.ssi_signo);
                }
                return;
            }
        }
    }
}

std::vector<pid_t> Supervisor::own_children() {
    std::vector<pid_t> children;
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks) {
        return children;
    }
    bool listed = false;
    while (dirent* e = readdir(tasks)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
        listed = listed || in.is_open();
        pid_t pid;
        while (in >> pid) {
            children.push_back(pid);
        }
    }
    closedir(tasks);
    if (listed) {
        return children;
    }
    // Kernels without CONFIG_PROC_CHILDREN: find the processes whose parent we are.
    const pid_t self = getpid();
    DIR* procs = opendir("/proc");
    if (!procs) {
        return children;
    }
    while (dirent* e = readdir(procs)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') {
            continue;
        }
        std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        auto close = stat.rfind(')');
        if (close == std::string::npos) {
            continue;
        }
        char state = 0;
        long ppid = 0;
        if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == self) {
            children.push_back(static_cast<pid_t>(std::atol(e->d_name)));
        }
    }
    closedir(procs);
    return children;
}

void Supervisor::kill_orphans() {
    // Anything still our child now is a reparented descendant of a worker. Killing
    // one hands its own children to us in turn, so sweep until none is left.
    for (int pass = 0; pass < 1000; ++pass) {
        std::vector<pid_t> orphans = own_children();
        if (orphans.empty()) {
            return;
        }
        for (pid_t pid : orphans) {
            kill(pid, SIGKILL);
        }
        for (pid_t pid : orphans) {
            while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
    }
}

}  // namespace acc::proc
