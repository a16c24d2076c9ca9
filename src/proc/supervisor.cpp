#include "acc/proc/supervisor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <set>
#include <system_error>

#include "acc/proc/kernel_file.hpp"
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

// The first "<key> <number>" line of a file (memory.events, memory.oom_control,
// /proc/vmstat); -1 if the file or the key is missing.
long read_counter(const std::string& path, std::string_view key) {
    auto text = read_kernel_file(path, 64 * 1024);
    if (!text) {
        return -1;
    }
    for (const std::string& line : split(*text, '\n')) {
        auto space = line.find(' ');
        if (space != std::string::npos && std::string_view(line).substr(0, space) == key) {
            return std::strtol(line.c_str() + space + 1, nullptr, 10);
        }
    }
    return -1;
}

// How many processes the kernel's OOM killer has killed: in our memory cgroup
// (v2 memory.events, v1 memory.oom_control; these count any OOM kill of a process in
// the cgroup), else machine-wide (/proc/vmstat). Always the same source within a run.
// -1 when none is readable.
long oom_kill_count() {
    std::string v2_path, v1_path;
    const std::string cgroups = read_kernel_file("/proc/self/cgroup").value_or("");
    for (const std::string& line : split(cgroups, '\n')) {
        auto a = line.find(':');
        auto b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) {
            continue;
        }
        std::string controllers = line.substr(a + 1, b - a - 1);
        std::string path = line.substr(b + 1);
        if (path == "/") {
            path.clear();
        }
        if (controllers.empty()) {
            v2_path = path;
        } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
            v1_path = path;
        }
    }
    for (const auto& [file, key] : std::initializer_list<std::pair<std::string, std::string_view>>{
             {"/sys/fs/cgroup" + v2_path + "/memory.events", "oom_kill"},
             {"/sys/fs/cgroup/memory.events", "oom_kill"},
             {"/sys/fs/cgroup/memory" + v1_path + "/memory.oom_control", "oom_kill"},
             {"/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"},
             {"/proc/vmstat", "oom_kill"}}) {
        long n = read_counter(file, key);
        if (n >= 0) {
            return n;
        }
    }
    return -1;
}

// Write all of `data`; false if the fd refuses (EPIPE, ENOSPC, ...).
bool write_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n > 0) {
            data += n;
            size -= static_cast<size_t>(n);
        } else if (n < 0 && errno == EAGAIN) {
            // Someone made the shared console non-blocking: wait until it takes more.
            pollfd pfd{fd, POLLOUT, 0};
            poll(&pfd, 1, 1000);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

const size_t k_read_chunk = 256 * 1024;
// Bigger worker pipes: fewer wake-ups when a worker writes fast.
const int k_pipe_size = 1024 * 1024;
// How long the final drain waits for pipes whose writers should all be gone.
const std::chrono::milliseconds k_drain_deadline{2000};

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
    // A console that went away (`accelerate launch ... | head`) must not kill the
    // launcher while it copies tee'd output: with SIGPIPE blocked, write() says EPIPE.
    // (Not on the signalfd: it is no request to stop; workers start with an empty mask.)
    sigset_t pipe_mask;
    sigemptyset(&pipe_mask);
    sigaddset(&pipe_mask, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_mask, nullptr);
    // Orphaned grandchildren (a worker's daemonized helpers) are reparented to
    // us instead of init, so the final sweep can find and stop them.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

Supervisor::~Supervisor() {
    kill_orphans();
    close_taps();
    if (m_signal_fd >= 0) {
        close(m_signal_fd);
    }
    // Discard a SIGPIPE our console writes left pending before it is unblocked.
    sigset_t pipe_mask;
    sigemptyset(&pipe_mask);
    sigaddset(&pipe_mask, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_mask, nullptr, &zero) == SIGPIPE) {
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
        if (m_options.on_launcher_signal) {
            m_options.on_launcher_signal(signo);
        }
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
        if (!w.status.exited && w.status.signal == SIGKILL && !w.stopped_by_launcher && m_oom_kills_at_start >= 0) {
            w.oom_killed = oom_kill_count() > m_oom_kills_at_start;
        }
        if (!w.status.success() && !out.first_failure && !out.launcher_signal && !out.stopped_externally) {
            out.first_failure = idx;
            w.stopped_by_launcher = false;
            if (m_options.on_first_failure) {
                m_options.on_first_failure(idx, w.status);
            }
            stop_all(SIGTERM, out, live, pids);
            m_kill_deadline = std::chrono::steady_clock::now() + m_options.grace_period;
        }
    }
}

GroupOutcome Supervisor::run(const std::vector<ProcessSpec>& specs) { return run(specs, {}); }

GroupOutcome Supervisor::run(const std::vector<ProcessSpec>& given_specs, const std::vector<WorkerOutput>& outputs) {
    std::vector<ProcessSpec> specs = given_specs;
    std::vector<int> child_fds;  // the workers' ends of their log files and pipes
    close_taps();
    open_outputs(specs, outputs, child_fds);
    m_oom_kills_at_start = oom_kill_count();
    GroupOutcome out;
    out.workers.resize(specs.size());
    std::vector<pid_t> pids(specs.size(), -1);
    std::vector<bool> live(specs.size(), false);
    size_t remaining = 0;
    m_kill_deadline.reset();
    m_signals_seen = 0;
    m_stop_requested = false;

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
    // The workers hold their own copies now; ours would keep the pipes from reaching EOF.
    for (int fd : child_fds) {
        close(fd);
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
        int r = poll_events(timeout_ms);
        if (r < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        signalfd_siginfo info{};
        while (read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            if (info.ssi_signo != SIGCHLD) {
                handle_signal(static_cast<int>(info.ssi_signo), out, live, pids);
            }
        }
        if (m_stop_requested && !out.stopped_externally && !out.first_failure && !out.launcher_signal) {
            out.stopped_externally = true;
            stop_all(SIGTERM, out, live, pids);
            m_kill_deadline = std::chrono::steady_clock::now() + m_options.grace_period;
        }
    }
    if (m_kill_deadline) {
        wait_for_orphans(out, pids);
    }
    kill_orphans();
    for (const auto& spec : given_specs) {
        if (spec.take_terminal) {
            // Take the terminal back for ourselves (SIGTTOU blocked: we are in the background now).
            sigset_t ttou;
            sigset_t old;
            sigemptyset(&ttou);
            sigaddset(&ttou, SIGTTOU);
            sigprocmask(SIG_BLOCK, &ttou, &old);
            tcsetpgrp(STDIN_FILENO, getpgrp());
            sigprocmask(SIG_SETMASK, &old, nullptr);
            break;
        }
    }
    // Every writer is gone now (workers reaped, their leftovers killed): what the
    // pipes still hold is the end of the output.
    drain_taps();
    close_taps();
    return out;
}

void Supervisor::open_outputs(std::vector<ProcessSpec>& specs, const std::vector<WorkerOutput>& outputs,
                              std::vector<int>& child_fds) {
    for (size_t i = 0; i < outputs.size() && i < specs.size(); ++i) {
        const WorkerOutput& o = outputs[i];
        struct Stream {
            launch::StreamMode mode;
            const std::string& path;
            int& child_fd;
            int console_fd;
        };
        for (const Stream& st : {Stream{o.streams.out, o.stdout_path, specs[i].stdout_fd, STDOUT_FILENO},
                                 Stream{o.streams.err, o.stderr_path, specs[i].stderr_fd, STDERR_FILENO}}) {
            if (st.mode == launch::StreamMode::inherit) {
                continue;
            }
            int file = open(st.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
            if (file < 0) {
                throw std::system_error(errno, std::generic_category(), "open " + st.path);
            }
            if (st.mode == launch::StreamMode::file) {
                // --redirects: the worker writes to the file itself, as under torchrun.
                st.child_fd = file;
                child_fds.push_back(file);
                continue;
            }
            int p[2];
            if (pipe2(p, O_CLOEXEC) != 0) {
                int err = errno;
                close(file);
                throw std::system_error(err, std::generic_category(), "pipe2");
            }
            fcntl(p[0], F_SETFL, O_NONBLOCK);
            fcntl(p[0], F_SETPIPE_SZ, k_pipe_size);  // best effort
            st.child_fd = p[1];
            child_fds.push_back(p[1]);
            auto tap = std::make_unique<Tap>(o.prefix);
            tap->pipe_fd = p[0];
            tap->file_fd = file;
            tap->console_fd = st.console_fd;
            m_taps.push_back(std::move(tap));
        }
    }
}

int Supervisor::poll_events(int timeout_ms) {
    std::vector<pollfd> fds{{m_signal_fd, POLLIN, 0}};
    std::vector<Tap*> taps;
    for (auto& t : m_taps) {
        if (t->pipe_fd >= 0) {
            fds.push_back({t->pipe_fd, POLLIN, 0});
            taps.push_back(t.get());
        }
    }
    // The external stop request (polled until it fires once; it stays readable).
    const bool watch_stop = m_options.stop_fd >= 0 && !m_stop_requested;
    if (watch_stop) {
        fds.push_back({m_options.stop_fd, POLLIN, 0});
    }
    int r = poll(fds.data(), fds.size(), timeout_ms);
    if (r > 0 && watch_stop && fds.back().revents != 0) {
        m_stop_requested = true;
    }
    if (r > 0) {
        for (size_t i = 0; i < taps.size(); ++i) {
            // POLLHUP too: the last bytes of a worker that exited must not be lost.
            if (fds[i + 1].revents != 0) {
                pump(*taps[i]);
            }
        }
    }
    return r;
}

bool Supervisor::pump(Tap& tap) {
    if (tap.pipe_fd < 0) {
        return false;
    }
    if (m_read_buf.size() < k_read_chunk) {
        m_read_buf.resize(k_read_chunk);
    }
    ssize_t n;
    do {
        n = read(tap.pipe_fd, m_read_buf.data(), m_read_buf.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
        return true;
    }
    m_out_buf.clear();
    if (n <= 0) {
        // EOF: a last line without its newline still goes out, then the tap closes.
        tap.prefixer.finish(m_out_buf);
    } else {
        // The file gets the bytes as written (torchrun's files hold unprefixed text).
        if (tap.file_fd >= 0 && !write_all(tap.file_fd, m_read_buf.data(), static_cast<size_t>(n))) {
            close(tap.file_fd);
            tap.file_fd = -1;
        }
        tap.prefixer.feed(std::string_view(m_read_buf.data(), static_cast<size_t>(n)), m_out_buf);
    }
    // Complete lines only, in one write: another rank's lines cannot land inside one.
    if (!m_out_buf.empty() && tap.console_fd >= 0 && !write_all(tap.console_fd, m_out_buf.data(), m_out_buf.size())) {
        tap.console_fd = -1;
    }
    if (n <= 0) {
        close(tap.pipe_fd);
        tap.pipe_fd = -1;
        if (tap.file_fd >= 0) {
            close(tap.file_fd);
            tap.file_fd = -1;
        }
        return false;
    }
    return true;
}

void Supervisor::drain_taps() {
    const auto deadline = std::chrono::steady_clock::now() + k_drain_deadline;
    while (true) {
        std::vector<pollfd> fds;
        std::vector<Tap*> taps;
        for (auto& t : m_taps) {
            if (t->pipe_fd >= 0) {
                fds.push_back({t->pipe_fd, POLLIN, 0});
                taps.push_back(t.get());
            }
        }
        if (fds.empty()) {
            return;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;  // a writer we do not know of holds a pipe: close_taps flushes and stops
        }
        int r = poll(fds.data(), fds.size(), static_cast<int>(left.count()) + 1);
        if (r < 0 && errno != EINTR) {
            return;
        }
        for (size_t i = 0; r > 0 && i < taps.size(); ++i) {
            if (fds[i].revents != 0) {
                pump(*taps[i]);
            }
        }
    }
}

void Supervisor::close_taps() {
    for (auto& t : m_taps) {
        if (t->pipe_fd >= 0) {
            m_out_buf.clear();
            t->prefixer.finish(m_out_buf);
            if (!m_out_buf.empty() && t->console_fd >= 0) {
                write_all(t->console_fd, m_out_buf.data(), m_out_buf.size());
            }
            close(t->pipe_fd);
        }
        if (t->file_fd >= 0) {
            close(t->file_fd);
        }
    }
    m_taps.clear();
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
            if (signalled.count(pid)) {
                continue;
            }
            // Re-checked each round: a grandchild caught between fork and setsid is
            // still in the worker's group now, but may leave it (and miss the group's
            // signal) a moment later.
            pid_t group = getpgid(pid);
            if (std::find(pids.begin(), pids.end(), group) == pids.end()) {
                kill(pid, stop_signal);
                signalled.insert(pid);
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*m_kill_deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;
        }
        // SIGCHLD from an orphan arrives on the signalfd; the timeout also covers a
        // descendant reparented without one of our children exiting.
        int r = poll_events(static_cast<int>(std::min<long>(left.count() + 1, 50)));
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
    // The common case, cheaply: no child at all (reparented orphans are children too).
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD) {
        return children;
    }
    DIR* tasks = opendir("/proc/self/task");
    if (!tasks) {
        return children;
    }
    bool listed = false;
    while (dirent* e = readdir(tasks)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        auto text = read_kernel_file(std::string("/proc/self/task/") + e->d_name + "/children");
        listed = listed || text.has_value();
        for (const auto& word : split(text.value_or(""), ' ')) {
            if (auto pid = parse_python_int(word); pid && *pid > 0) {
                children.push_back(static_cast<pid_t>(*pid));
            }
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
        const std::string stat = read_kernel_file(std::string("/proc/") + e->d_name + "/stat", 4096).value_or("");
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
