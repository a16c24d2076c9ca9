#include "acc/proc/supervisor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <set>
#include <system_error>

#include "acc/launch/job_control.hpp"
#include "acc/proc/kernel_file.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::proc {

namespace {

// Requests to stop the job: forwarded to every worker group.
const int k_stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
// Notifications for the script, such as a scheduler's "save a checkpoint, you are about
// to be preempted" (SLURM's --signal=USR1@90): passed to each worker's own process and
// nothing else. Their default action would end the launcher, whose workers would then
// be killed (parent-death signal) before they could act on it; and a data-loader
// child, which has no handler, would die of it, so the worker's group is not signalled.
const int k_passed_signals[] = {SIGUSR1, SIGUSR2};
// Everything the launcher reads from its signalfd: worker exits and stops, the stop
// requests, job control (Ctrl-Z suspends the whole job; SIGCONT resumes it), the
// terminal's size changes (passed on: the workers are the job the terminal shows), and
// the notifications above.
const int k_handled_signals[] = {SIGCHLD, SIGINT,  SIGTERM,  SIGHUP,  SIGQUIT,
                                 SIGTSTP, SIGCONT, SIGWINCH, SIGUSR1, SIGUSR2};

// The thread that reads the signalfd, for forward_to_reader.
std::atomic<pid_t> g_reader_thread{0};
static_assert(std::atomic<pid_t>::is_always_lock_free, "read in a signal handler");

// A library may have started threads of its own with these signals unblocked (libcuda
// does, once NVML is probed: seen on an H100). The kernel may hand such a thread a signal
// sent to the launcher, and the default action would end the launcher there without a
// word, its workers killed by the parent-death signal. This handler, run in that thread,
// sends the signal on to the reader, which blocks it: it waits there for the signalfd.
extern "C" void forward_to_reader(int signo) {
    const int saved = errno;
    syscall(SYS_tgkill, getpid(), g_reader_thread.load(), signo);
    errno = saved;
}

bool is_stop_request(int signo) {
    return std::find(std::begin(k_stop_signals), std::end(k_stop_signals), signo) != std::end(k_stop_signals);
}

bool is_passed_signal(int signo) {
    return std::find(std::begin(k_passed_signals), std::end(k_passed_signals), signo) != std::end(k_passed_signals);
}

// Stop the launcher by `signo` (SIGTSTP, SIGTTIN, SIGTTOU or SIGSTOP), as the default
// action would, and return once it is continued; with `whole_group`, every process of
// its process group too (the rest of a pipeline, a calling script without job control):
// the shell reports a job stopped only once all of it is. In an orphaned process group
// (no shell could continue it) the kernel discards all but SIGSTOP, and this returns at once.
void stop_self(int signo, bool whole_group = false) {
    const pid_t target = whole_group ? 0 : getpid();
    if (signo == SIGSTOP) {
        kill(target, SIGSTOP);
        return;
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    const timespec zero{0, 0};
    while (sigtimedwait(&one, nullptr, &zero) == signo) {
        // A second Ctrl-Z already queued would stop us again right after `fg`.
    }
    // The default action, stop, before kill returns: not the forwarding handler.
    struct sigaction stop_action{};
    stop_action.sa_handler = SIG_DFL;
    struct sigaction handler{};
    sigaction(signo, &stop_action, &handler);
    sigset_t old;
    sigprocmask(SIG_UNBLOCK, &one, &old);
    kill(target, signo);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    sigaction(signo, &handler, nullptr);
}

// Signal a worker's whole group; a stop request also continues it, as a shell's `kill`
// does, so that a suspended worker does not sit on it until the grace period ends. A worker
// that left its group (setpgid into another) gets the signal itself: it is our child, not
// yet reaped, so its pid is still ours.
void signal_group(pid_t worker, int signo) {
    const bool moved = getpgid(worker) != worker;
    for (int s : {signo, signo != SIGKILL && signo != SIGCONT ? SIGCONT : 0}) {
        if (s != 0) {
            killpg(worker, s);
            if (moved) {
                kill(worker, s);
            }
        }
    }
}

// Job-control signals (SIGTSTP, SIGCONT, SIGWINCH) go to every worker still running.
void signal_live_groups(int signo, const std::vector<bool>& live, const std::vector<pid_t>& pids) {
    for (size_t i = 0; i < pids.size(); ++i) {
        if (live[i]) {
            killpg(pids[i], signo);
        }
    }
}

// Notifications go to every worker still running (not yet reaped: its pid is still
// its own), the worker process alone.
void signal_live_workers(int signo, const std::vector<bool>& live, const std::vector<pid_t>& pids) {
    for (size_t i = 0; i < pids.size(); ++i) {
        if (live[i]) {
            kill(pids[i], signo);
        }
    }
}

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

// Whether a stop signal (Ctrl-C, SIGTERM, ...) waits on the signalfd; it is not taken.
bool stop_signal_pending() {
    sigset_t pending;
    if (sigpending(&pending) != 0) {
        return false;
    }
    for (int s : k_stop_signals) {
        if (sigismember(&pending, s)) {
            return true;
        }
    }
    return false;
}

const size_t k_read_chunk = 256 * 1024;
// Bytes one tap may copy per wake-up while the workers run, so that signals and
// the other ranks are served between chunks of a fast writer.
const size_t k_pump_budget = 4 * 1024 * 1024;
// The shortest time between two reads of the tee'd files (see poll_events).
const std::chrono::milliseconds k_tap_interval{2};
// The longest one tap is copied to the console before the supervisor looks around again.
const std::chrono::milliseconds k_pump_slice{20};
// After a stop, how long a console that takes nothing is waited for before the rest of
// its output is dropped (it is in the log files): a scheduler's SIGTERM must end the job
// even when nobody reads the console.
const int k_stalled_console_ms = 1000;
// After a stop, the most of a rank's not yet shown output that still goes to the console.
const size_t k_stop_backlog = 1024 * 1024;
// After a stop, the longest the consoles are waited for in all, even one that keeps taking
// a little (a slow ssh link would otherwise hold a scheduler's SIGTERM for minutes): the
// rest is in the log files, and a line says so.
const std::chrono::seconds k_stop_drain{5};
// What still counts as a note rather than output once k_stop_drain is over.
const size_t k_note_bytes = 4096;
// How often tee'd files are read when inotify is unavailable (torchrun's tail polls too).
const int k_tail_poll_ms = 20;
// How much of a joined stderr's last output is kept for the verdict.
const size_t k_recent_stderr = 64 * 1024;
// How long a joined stream's unfinished line (a prompt, progress dots, a bar redrawn with
// '\r') is held back for its end before it is handed out as it is: long enough for the
// end of a print() written apart, short enough to read as immediate.
const std::chrono::milliseconds k_partial_line_wait{50};

}  // namespace

Supervisor::Supervisor(SupervisorOptions options) : m_options(options) {
    // An inherited SIGCHLD disposition of SIG_IGN makes the kernel reap children itself:
    // no worker's status could be read, and the wait would never end.
    struct sigaction chld{};
    if (sigaction(SIGCHLD, nullptr, &chld) == 0 && (chld.sa_handler == SIG_IGN || (chld.sa_flags & SA_NOCLDWAIT))) {
        signal(SIGCHLD, SIG_DFL);
    }
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : k_handled_signals) {
        // A request the launcher was started to ignore stays ignored, by it and (inherited)
        // by the workers, as for a script started directly: `nohup accelerate launch ... &`
        // survives the SIGHUP of a closing terminal.
        struct sigaction current{};
        if (s != SIGCHLD && sigaction(s, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
            continue;
        }
        sigaddset(&mask, s);
    }
    if (sigprocmask(SIG_BLOCK, &mask, &m_old_mask) != 0) {
        throw std::system_error(errno, std::generic_category(), "sigprocmask");
    }
    g_reader_thread = static_cast<pid_t>(syscall(SYS_gettid));
    struct sigaction forward{};
    forward.sa_handler = forward_to_reader;
    forward.sa_flags = SA_RESTART;
    sigfillset(&forward.sa_mask);
    for (int s : k_handled_signals) {
        if (sigismember(&mask, s) == 1) {
            struct sigaction old{};
            sigaction(s, &forward, &old);
            m_old_actions.emplace_back(s, old);
        }
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
    close_taps(true, false);
    m_sinks.clear();  // each closes its own open of the console
    if (m_signal_fd >= 0) {
        close(m_signal_fd);
    }
    if (m_tty_owned_fd >= 0) {
        close(m_tty_owned_fd);
    }
    // Discard a SIGPIPE our console writes left pending, and a notification that came
    // when no worker was left to take it, before they are unblocked: their default
    // action would end the launcher instead of letting it report the run.
    sigset_t discard;
    sigemptyset(&discard);
    sigaddset(&discard, SIGPIPE);
    for (int s : k_passed_signals) {
        sigaddset(&discard, s);
    }
    const timespec zero{0, 0};
    while (sigtimedwait(&discard, nullptr, &zero) > 0) {
    }
    for (const auto& [signo, old] : m_old_actions) {
        sigaction(signo, &old, nullptr);
    }
    sigprocmask(SIG_SETMASK, &m_old_mask, nullptr);
}

std::optional<int> Supervisor::pending_signal() {
    signalfd_siginfo info{};
    std::optional<int> found;
    while (read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int signo = static_cast<int>(info.ssi_signo);
        if (signo == SIGTSTP) {
            stop_self(SIGTSTP);  // no worker is running: only the launcher to suspend
        } else if (is_stop_request(signo)) {
            found = signo;
        }
    }
    return found;
}

void Supervisor::stop_all(int signo, GroupOutcome& out, const std::vector<bool>& live,
                          const std::vector<pid_t>& pids) {
    for (size_t i = 0; i < pids.size(); ++i) {
        if (live[i]) {
            // The whole group: data-loader children go too.
            signal_group(pids[i], signo);
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
        // A second Ctrl-C means now: for the live workers' groups here, and for whatever
        // outlived its worker (kill_orphans), without waiting out the first one's grace period.
        stop_all(SIGKILL, out, live, pids);
        m_kill_deadline.reset();
        return;
    }
    stop_all(signo, out, live, pids);
    // A stop already under way (after a failure) keeps its deadline: a signal never gives
    // the workers longer.
    const auto deadline = std::chrono::steady_clock::now() + m_options.grace_period;
    m_kill_deadline = m_kill_deadline ? std::min(*m_kill_deadline, deadline) : deadline;
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
        std::erase(m_terminal_waiters, pid);
        if (pid == m_terminal_holder) {
            pass_terminal_on(live, pids);
        }
        auto& w = out.workers[idx];
        w.status = decode(status);
        w.ended = std::chrono::steady_clock::now();
        if (!w.status.exited && w.status.signal == SIGKILL && !w.stopped_by_launcher && m_oom_kills_at_start >= 0) {
            w.oom_killed = oom_kill_count() > m_oom_kills_at_start;
        }
        if (!w.status.success()) {
            first_failure(idx, out, live, pids);
        }
    }
}

void Supervisor::first_failure(size_t idx, GroupOutcome& out, const std::vector<bool>& live,
                               const std::vector<pid_t>& pids) {
    if (out.first_failure || out.launcher_signal || out.stopped_externally) {
        return;
    }
    out.first_failure = idx;
    out.workers[idx].stopped_by_launcher = false;
    if (m_options.on_first_failure) {
        m_options.on_first_failure(idx, out.workers[idx].status);
    }
    stop_all(SIGTERM, out, live, pids);
    m_kill_deadline = std::chrono::steady_clock::now() + m_options.grace_period;
}

bool Supervisor::shutting_down(const GroupOutcome& out) const {
    return m_kill_deadline || out.first_failure || out.launcher_signal || out.stopped_externally;
}

int Supervisor::terminal() {
    if (!m_tty_looked_up) {
        m_tty_looked_up = true;
        if (isatty(STDIN_FILENO)) {
            m_tty_fd = STDIN_FILENO;
        } else {
            // A worker may open the terminal itself (getpass does).
            m_tty_owned_fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
            m_tty_fd = m_tty_owned_fd;
        }
    }
    return m_tty_fd;
}

pid_t Supervisor::terminal_foreground() {
    return terminal() >= 0 ? tcgetpgrp(terminal()) : -1;
}

void Supervisor::set_terminal_foreground(pid_t group) {
    if (terminal() < 0) {
        return;
    }
    // Only a process with SIGTTOU blocked may do this from the background.
    sigset_t ttou;
    sigset_t old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    tcsetpgrp(terminal(), group);
    sigprocmask(SIG_SETMASK, &old, nullptr);
}

void Supervisor::reclaim_terminal(const std::vector<pid_t>& pids) {
    // Only from our own workers: with the job in the background the shell has it, and keeps it.
    const pid_t foreground = terminal_foreground();
    if (foreground > 0 && std::find(pids.begin(), pids.end(), foreground) != pids.end()) {
        set_terminal_foreground(getpgrp());
    }
}

void Supervisor::pass_terminal_on(const std::vector<bool>& live, const std::vector<pid_t>& pids) {
    const pid_t ended = m_terminal_holder;
    m_terminal_holder = -1;
    if (terminal_foreground() != ended) {
        return;  // the job is in the background: nothing of ours to pass on
    }
    for (pid_t next : m_terminal_waiters) {
        auto it = std::find(pids.begin(), pids.end(), next);
        if (it != pids.end() && live[static_cast<size_t>(it - pids.begin())]) {
            std::erase(m_terminal_waiters, next);
            give_terminal(next);
            return;
        }
    }
    m_terminal_waiters.clear();
    set_terminal_foreground(getpgrp());  // Ctrl-C reaches the launcher again
}

void Supervisor::give_terminal(pid_t worker) {
    set_terminal_foreground(worker);
    m_terminal_holder = worker;
    killpg(worker, SIGCONT);
}

void Supervisor::suspend_job(int signo, bool whole_group, const std::vector<bool>& live,
                             const std::vector<pid_t>& pids) {
    // As the terminal does for a foreground job: every worker group gets SIGTSTP (which a
    // program may catch, unlike SIGSTOP). Then the launcher stops, which is what the shell
    // waits for; it tells the user and takes the terminal.
    signal_live_groups(SIGTSTP, live, pids);
    stop_self(signo, whole_group);
    resume_job(live, pids);
}

void Supervisor::resume_job(const std::vector<bool>& live, const std::vector<pid_t>& pids) {
    // `fg` gave the terminal to our group: pass it to the worker that had it (or asked).
    if (m_terminal_holder > 0 && terminal_foreground() == getpgrp()) {
        set_terminal_foreground(m_terminal_holder);
    }
    signal_live_groups(SIGCONT, live, pids);
}

void Supervisor::collect_stops(const GroupOutcome& out, const std::vector<bool>& live,
                               const std::vector<pid_t>& pids) {
    while (true) {
        siginfo_t info{};
        // Takes the report of each stop (a child continued since has none left).
        if (waitid(P_ALL, 0, &info, WSTOPPED | WNOHANG) != 0 || info.si_pid == 0) {
            return;
        }
        auto it = std::find(pids.begin(), pids.end(), info.si_pid);
        if (it == pids.end() || !live[static_cast<size_t>(it - pids.begin())]) {
            continue;  // a reparented descendant: not part of the job's job control
        }
        const pid_t worker = info.si_pid;
        const pid_t foreground = terminal_foreground();
        launch::WorkerStop stop;
        stop.signal = info.si_status;
        stop.worker_has_terminal = foreground == worker;
        stop.launcher_has_terminal = foreground > 0 && foreground == getpgrp();
        stop.other_worker_has_terminal =
            foreground > 0 && foreground != worker && std::find(pids.begin(), pids.end(), foreground) != pids.end();
        stop.shutting_down = shutting_down(out);
        switch (launch::respond_to_stop(stop)) {
        case launch::StopResponse::ignore:
            break;
        case launch::StopResponse::give_terminal:
            give_terminal(worker);
            break;
        case launch::StopResponse::wait_for_terminal:
            if (std::find(m_terminal_waiters.begin(), m_terminal_waiters.end(), worker) == m_terminal_waiters.end()) {
                m_terminal_waiters.push_back(worker);
            }
            break;
        case launch::StopResponse::suspend_job:
            if (!stop.worker_has_terminal) {
                m_terminal_holder = worker;  // it asked for the terminal: it gets it on `fg`
            }
            // The terminal stopped only the worker's group: the rest of the shell's job
            // (our group: a pipeline's other commands, a calling script) must stop too.
            suspend_job(stop.signal, true, live, pids);
            break;
        }
    }
}

GroupOutcome Supervisor::run(const std::vector<ProcessSpec>& specs) { return run(specs, {}); }

GroupOutcome Supervisor::run(const std::vector<ProcessSpec>& given_specs, const std::vector<WorkerOutput>& outputs) {
    std::vector<ProcessSpec> specs = given_specs;
    std::vector<int> child_fds;  // the workers' ends of their log files
    close_taps(true);
    m_recent_stderr.assign(specs.size(), RecentOutput{});
    open_outputs(specs, outputs, child_fds);
    GroupOutcome out;
    out.workers.resize(specs.size());
    std::vector<pid_t> pids(specs.size(), -1);
    std::vector<bool> live(specs.size(), false);
    size_t remaining = 0;
    m_kill_deadline.reset();
    m_signals_seen = 0;
    m_stop_requested = false;
    m_terminal_holder = -1;
    m_terminal_waiters.clear();

    for (size_t i = 0; i < specs.size(); ++i) {
        if (auto sig = pending_signal()) {
            handle_signal(*sig, out, live, pids);
            break;
        }
        Spawned s;
        try {
            s = spawn_process(specs[i]);
        } catch (const std::system_error& e) {
            // No process at all (a process limit, memory): this rank fails to start, and
            // the ranks already running are stopped in order, as after any failure.
            auto& w = out.workers[i];
            w.fork_errno = e.code().value();
            w.status = launch::WaitStatus{true, 1, 0, false};
            w.ended = std::chrono::steady_clock::now();
            first_failure(i, out, live, pids);
            break;
        }
        pids[i] = s.pid;
        live[i] = true;
        if (specs[i].take_terminal) {
            m_terminal_holder = s.pid;  // the child made its group the terminal's foreground
        }
        ++remaining;
        out.workers[i].pid = s.pid;
        out.workers[i].exec_errno = s.exec_errno;
    }
    // The workers hold their own copies of their log files now.
    for (int fd : child_fds) {
        close(fd);
    }
    // The OOM-kill baseline: read once the workers run (cgroup files cost tens of µs
    // on the start-up path); a worker is not OOM-killed within microseconds of its exec.
    m_oom_kills_at_start = oom_kill_count();

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
        bool child_changed = false;
        while (read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            const int signo = static_cast<int>(info.ssi_signo);
            child_changed = child_changed || signo == SIGCHLD;
            if (signo == SIGTSTP) {
                // From the terminal, our whole group got it already; from kill(1), it was
                // meant for the launcher (and so its job) alone.
                if (!shutting_down(out)) {
                    suspend_job(SIGTSTP, false, live, pids);
                }
            } else if (signo == SIGCONT) {
                resume_job(live, pids);
            } else if (signo == SIGWINCH) {
                signal_live_groups(SIGWINCH, live, pids);  // progress bars redraw for the new width
            } else if (is_passed_signal(signo)) {
                signal_live_workers(signo, live, pids);
            } else if (signo != SIGCHLD) {
                handle_signal(signo, out, live, pids);
            }
        }
        if (child_changed) {
            collect_stops(out, live, pids);  // a SIGCHLD may also mean a worker stopped
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
    reclaim_terminal(pids);
    // Every writer is gone now (workers reaped, their leftovers killed): print the
    // rest of the tee'd files.
    close_taps(out.launcher_signal || out.first_failure || out.stopped_externally);
    return out;
}

namespace {

// Before any worker starts: one line naming the file and what to do about it.
[[noreturn]] void throw_log_error(const std::string& path, int err) {
    std::string hint;
    if (err == EMFILE || err == ENFILE) {
        hint = " (each captured stream holds files open: raise `ulimit -n`, or capture fewer streams)";
    } else if (err == EACCES || err == EROFS || err == ENOSPC) {
        hint = "; pass a writable --log_dir";
    }
    throw Error("cannot open the worker log " + path + ": " + std::strerror(err) + hint);
}

}  // namespace

int Supervisor::join_stream(ConsoleSink* sink, std::vector<int>& child_fds, RecentOutput* recent) {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) {
        const int err = errno;
        throw Error(std::string("cannot make a pipe for the workers' output: ") + std::strerror(err) +
                    (err == EMFILE || err == ENFILE ? " (raise `ulimit -n`)" : ""));
    }
    fcntl(ends[0], F_SETFL, O_NONBLOCK);
    child_fds.push_back(ends[1]);
    auto tap = std::make_unique<Tap>(std::string());
    tap->file_fd = ends[0];
    tap->pipe = true;
    tap->sink = sink;
    tap->recent = recent;
    m_taps.push_back(std::move(tap));
    return ends[1];
}

void Supervisor::open_outputs(std::vector<ProcessSpec>& specs, const std::vector<WorkerOutput>& outputs,
                              std::vector<int>& child_fds) {
    for (size_t i = 0; i < outputs.size() && i < specs.size(); ++i) {
        const WorkerOutput& o = outputs[i];
        const bool out_joined = o.streams.out == launch::StreamMode::joined;
        const bool err_joined = o.streams.err == launch::StreamMode::joined;
        ConsoleSink* out_sink = out_joined ? console_sink(STDOUT_FILENO) : nullptr;
        ConsoleSink* err_sink = err_joined ? console_sink(STDERR_FILENO) : nullptr;
        RecentOutput* recent = err_joined ? &m_recent_stderr[i] : nullptr;
        if (out_joined && out_sink == err_sink) {
            // stdout and stderr on one console (`2>&1`): one pipe for both keeps the order
            // in which the worker wrote them.
            m_recent_stderr[i].with_stdout = true;
            specs[i].stdout_fd = specs[i].stderr_fd = join_stream(out_sink, child_fds, recent);
        } else {
            if (out_joined) {
                specs[i].stdout_fd = join_stream(out_sink, child_fds);
            }
            if (err_joined) {
                specs[i].stderr_fd = join_stream(err_sink, child_fds, recent);
            }
        }
        struct Stream {
            launch::StreamMode mode;
            const std::string& path;
            int& child_fd;
            int console_fd;
        };
        for (const Stream& st : {Stream{o.streams.out, o.stdout_path, specs[i].stdout_fd, STDOUT_FILENO},
                                 Stream{o.streams.err, o.stderr_path, specs[i].stderr_fd, STDERR_FILENO}}) {
            if (st.mode == launch::StreamMode::inherit || st.mode == launch::StreamMode::joined) {
                continue;
            }
            // The worker writes its log file itself, as under torchrun (--redirects and
            // --tee alike): it never waits for us or for the console.
            int file = open(st.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
            if (file < 0) {
                throw_log_error(st.path, errno);
            }
            st.child_fd = file;
            child_fds.push_back(file);
            if (st.mode != launch::StreamMode::tee) {
                continue;
            }
            // --tee: we follow the file from its start with a read fd of our own.
            int reader = open(st.path.c_str(), O_RDONLY | O_CLOEXEC);
            if (reader < 0) {
                throw_log_error(st.path, errno);
            }
            auto tap = std::make_unique<Tap>(o.prefix);
            tap->file_fd = reader;
            tap->log_path = st.path;
            tap->sink = console_sink(st.console_fd);
            // The watch names our own fd, so it follows the file even if it is renamed.
            tap->watch_path = "/proc/self/fd/" + std::to_string(reader);
            if (access(tap->watch_path.c_str(), F_OK) != 0) {
                tap->watch_path = st.path;  // no /proc
            }
            if (!m_files_followed) {
                m_files_followed = true;
                m_inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);  // -1: fall back to polling
            }
            if (m_inotify_fd >= 0 && !arm(*tap)) {
                close_inotify();  // out of watches (fs.inotify.max_user_watches): poll every tap
            }
            m_taps.push_back(std::move(tap));
        }
    }
}

int Supervisor::poll_events(int timeout_ms) {
    const auto now = std::chrono::steady_clock::now();
    // Tee'd output is gathered at most every k_tap_interval: a worker printing line by
    // line (python -u) then costs one wake-up per interval, not one per line. Signals,
    // exits and stop requests are never delayed.
    const bool taps_resting = now < m_taps_rest_until;
    std::vector<pollfd> fds;
    fds.push_back({m_signal_fd, POLLIN, 0});
    int inotify_index = -1;
    if (m_inotify_fd >= 0 && !taps_resting) {
        inotify_index = static_cast<int>(fds.size());
        fds.push_back({m_inotify_fd, POLLIN, 0});
    }
    // The external stop request (polled until it fires once; it stays readable).
    const bool watch_stop = m_options.stop_fd >= 0 && !m_stop_requested;
    const size_t stop_index = fds.size();
    if (watch_stop) {
        fds.push_back({m_options.stop_fd, POLLIN, 0});
    }
    // Joined streams' pipes, while their consoles take more (else the writers wait).
    const size_t first_pipe = fds.size();
    std::vector<Tap*> pipes;
    for (auto& t : m_taps) {
        if (t->pipe && t->file_fd >= 0 && !taps_resting && !t->paused()) {
            pipes.push_back(t.get());
            fds.push_back({t->file_fd, POLLIN, 0});
        }
    }
    // Consoles that are full: wait until they take more.
    const size_t first_sink = fds.size();
    std::vector<ConsoleSink*> waiting;
    for (auto& sink : m_sinks) {
        if (sink->blocked()) {
            waiting.push_back(sink.get());
            fds.push_back({sink->fd(), POLLOUT, 0});
        }
    }
    if (!m_taps.empty()) {
        bool backlog = false;
        for (const auto& t : m_taps) {
            backlog = backlog || (t->backlog && !t->paused());  // a paused one waits for its console
        }
        int tap_timeout = -1;
        if (taps_resting) {
            tap_timeout = static_cast<int>(
                std::chrono::ceil<std::chrono::milliseconds>(m_taps_rest_until - now).count());
        } else if (backlog) {
            tap_timeout = 0;
        } else if (m_files_followed && m_inotify_fd < 0) {
            tap_timeout = k_tail_poll_ms;
        }
        for (const auto& t : m_taps) {
            if (t->partial_since && !t->paused()) {
                const auto due = *t->partial_since + k_partial_line_wait;
                const int wait = due <= now ? 0 : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(due - now).count());
                tap_timeout = tap_timeout < 0 ? wait : std::min(tap_timeout, wait);
            }
        }
        if (tap_timeout >= 0) {
            timeout_ms = timeout_ms < 0 ? tap_timeout : std::min(timeout_ms, tap_timeout);
        }
    }
    int r = poll(fds.data(), fds.size(), timeout_ms);
    if (r > 0 && watch_stop && fds[stop_index].revents != 0) {
        m_stop_requested = true;
    }
    for (size_t i = 0; r > 0 && i < waiting.size(); ++i) {
        if (fds[first_sink + i].revents != 0) {
            waiting[i]->flush();  // its paused taps go on below, once it is written out
            close_gone_pipes();
            for (auto& t : m_taps) {
                // Pipes were not watched while their console was full: look at each again, or
                // the rank that filled the console would keep it and starve the others.
                if (t->pipe && t->sink == waiting[i] && !t->paused()) {
                    t->backlog = true;
                }
            }
        }
    }
    for (size_t i = 0; r > 0 && i < pipes.size(); ++i) {
        if (fds[first_pipe + i].revents != 0) {
            pipes[i]->backlog = true;  // data, or every writer gone (POLLHUP)
        }
    }
    if (m_taps.empty() || taps_resting) {
        flush_stale_partials();
        return r;
    }
    if (m_files_followed && m_inotify_fd < 0) {
        for (auto& t : m_taps) {
            t->backlog = true;  // no inotify: read every file on each wake-up
        }
    } else if (r > 0 && fds[inotify_index].revents != 0) {
        // Which files changed. The watches are one-shot: a worker's writes cost an
        // inotify event only until the next time we read its file, not one per write.
        alignas(inotify_event) char events[4096];
        ssize_t len;
        while ((len = read(m_inotify_fd, events, sizeof events)) > 0) {
            for (ssize_t off = 0; off < len;) {
                const auto* ev = reinterpret_cast<const inotify_event*>(events + off);
                off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
                if ((ev->mask & IN_IGNORED) != 0) {
                    continue;  // a fired one-shot watch being removed
                }
                for (auto& t : m_taps) {
                    // IN_Q_OVERFLOW (wd -1): events were lost, so read every file.
                    if ((ev->mask & IN_Q_OVERFLOW) != 0 || t->watch == ev->wd) {
                        t->backlog = true;
                        t->watch = -1;
                    }
                }
            }
        }
    }
    if (m_inotify_fd >= 0) {
        for (auto& t : m_taps) {
            // Re-armed before the file is read: a write after our read is never missed.
            // A paused tap is not watched: it is read anyway once its console takes more.
            if (!t->pipe && t->backlog && !t->paused() && t->watch < 0 && !arm(*t)) {
                close_inotify();  // out of watches: poll every tap from now on
                break;
            }
        }
    }
    bool pumped = false;
    bool caught_up = true;
    // Each round starts one rank further: on a console slower than one rank's output, the
    // first rank pumped fills it again and the others wait for the next round, so always
    // starting with rank 0 would hold back every other rank behind its whole backlog.
    const size_t n = m_taps.size();
    const size_t first = m_next_tap++ % n;
    for (size_t i = 0; i < n; ++i) {
        auto& t = m_taps[(first + i) % n];
        if (t->backlog) {
            pump(*t, k_pump_budget);
            pumped = true;
            caught_up = caught_up && !t->backlog;
        }
    }
    // Rest only once caught up: a fast writer is followed without pause.
    if (pumped && caught_up && (m_inotify_fd >= 0 || !m_files_followed)) {
        m_taps_rest_until = std::chrono::steady_clock::now() + k_tap_interval;
    }
    flush_stale_partials();
    return r;
}

const Supervisor::RecentOutput& Supervisor::recent_stderr(size_t index) const {
    static const RecentOutput none;
    return index < m_recent_stderr.size() ? m_recent_stderr[index] : none;
}

void Supervisor::flush_stale_partials() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& t : m_taps) {
        if (t->partial_since && !t->paused() && now >= *t->partial_since + k_partial_line_wait) {
            t->partial_since.reset();
            m_out_buf.clear();
            note_line_ended(*t);
            t->prefixer.flush_partial(m_out_buf);
            if (!m_out_buf.empty() && t->sink != nullptr) {
                t->sink->offer(m_out_buf, t.get());
            }
        }
    }
}

bool Supervisor::arm(Tap& tap) {
    tap.watch = inotify_add_watch(m_inotify_fd, tap.watch_path.c_str(), IN_MODIFY | IN_ONESHOT);
    return tap.watch >= 0;
}

void Supervisor::pump(Tap& tap, size_t budget) {
    tap.backlog = false;
    if (tap.file_fd < 0) {
        return;
    }
    if (m_read_buf.size() < k_read_chunk) {
        m_read_buf.resize(k_read_chunk);
    }
    follow_truncation(tap);
    size_t copied = 0;
    const auto deadline = std::chrono::steady_clock::now() + k_pump_slice;
    while (true) {
        if (tap.paused()) {
            tap.backlog = true;  // come back once the console takes more
            return;
        }
        // Bounded in bytes and in time (writes to a console that is a file can be slow): signals,
        // exits and the other ranks are served between slices.
        if (copied >= budget || (copied > 0 && std::chrono::steady_clock::now() >= deadline)) {
            tap.backlog = true;  // come back at once
            return;
        }
        ssize_t n = read(tap.file_fd, m_read_buf.data(), m_read_buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n == 0 && tap.pipe) {
            close(tap.file_fd);  // every writer is gone
            tap.file_fd = -1;
            return;
        }
        if (n <= 0) {
            return;  // the end of what the worker wrote so far (or an unreadable file)
        }
        copied += static_cast<size_t>(n);
        keep_recent(tap, static_cast<size_t>(n));
        m_out_buf.clear();
        note_line_ended(tap);
        tap.prefixer.feed(std::string_view(m_read_buf.data(), static_cast<size_t>(n)), m_out_buf);
        // Complete lines only; what the console does not take now is written before
        // anything else goes to it, so another rank's lines cannot land inside one.
        if (!m_out_buf.empty() && tap.sink != nullptr) {
            tap.sink->offer(m_out_buf, &tap);
        }
        if (tap.pipe) {
            if (tap.sink != nullptr && tap.sink->gone()) {
                // The console is gone for good (`| head` is done, a full disk).
                close_gone_pipes();
                return;
            }
            // An unfinished line is handed out once it has waited k_partial_line_wait since
            // it began (a progress bar redrawn every 10 ms is never cut).
            if (tap.prefixer.pending() == 0) {
                tap.partial_since.reset();
            } else if (!tap.partial_since || !m_out_buf.empty()) {
                tap.partial_since = std::chrono::steady_clock::now();
            }
        }
    }
}

void Supervisor::follow_truncation(Tap& tap) {
    // Truncating the log (logrotate's copytruncate, `: > stdout.log`) makes the file
    // shorter than what was read; the worker's O_APPEND writes start again at 0. Reading
    // on from the old position would show nothing until the file grew past it, then
    // resume mid-line. Follow it from its new start instead, as `tail -F` does. (A
    // worker that rewrote more than the old size in the 2 ms before this check is not
    // noticed; the file itself is never wrong.)
    const off_t at = lseek(tap.file_fd, 0, SEEK_CUR);
    struct stat st{};
    if (at <= 0 || fstat(tap.file_fd, &st) != 0 || st.st_size >= at) {
        return;
    }
    lseek(tap.file_fd, 0, SEEK_SET);
    end_line(tap);  // a line the truncation cut short
    m_out_buf = tap.prefixer.prefix();
    m_out_buf += "accelerate launch: " + tap.log_path + " was truncated; following it from its new start\n";
    if (tap.sink != nullptr) {
        tap.sink->offer(m_out_buf, &tap);
    }
}

void Supervisor::close_taps(bool stopped, bool wait) {
    if (stopped) {
        m_stop_drain_until = std::chrono::steady_clock::now() + k_stop_drain;
    }
    for (auto& t : m_taps) {
        if (t->pipe) {
            drain_pipe(*t, stopped, wait);
        } else if (t->file_fd >= 0) {
            drain(*t, stopped, wait);
        }
        end_line(*t);  // a last line without its newline
        if (t->file_fd >= 0) {
            close(t->file_fd);
        }
    }
    m_taps.clear();
    m_files_followed = false;
    close_inotify();
    // The verdict and the next attempt's output come after all of it.
    finish_sinks(stopped, wait);
    m_stalled_consoles.clear();
    for (auto& sink : m_sinks) {
        sink->resume();  // the next attempt's output, and tell(), are offered to it again
    }
}

void Supervisor::tell(std::string_view text, bool last) {
    // Through the sink: the text never lands inside a worker's line, and a full console
    // cannot hold up a restart, nor keep a further stop signal from ending the launcher.
    ConsoleSink& sink = *console_sink(STDERR_FILENO);
    sink.offer(text);
    while (sink.blocked()) {
        if (!wait_for_console(sink, last ? -1 : k_stalled_console_ms)) {
            sink.give_up();
        }
    }
    sink.resume();
}

ConsoleSink* Supervisor::console_sink(int console_fd) {
    struct stat st{};
    if (fstat(console_fd, &st) != 0) {
        // A closed stdout or stderr: one sink that drops everything, for every later ask.
        if (!m_closed_console) {
            m_closed_console = ConsoleSink::open(console_fd);
        }
        return m_closed_console.get();
    }
    for (auto& sink : m_sinks) {
        if (sink->is(st.st_dev, st.st_ino)) {
            return sink.get();
        }
    }
    m_sinks.push_back(ConsoleSink::open(console_fd));
    return m_sinks.back().get();
}

namespace {

// While waiting for a console once the workers are gone: take the pending signals that
// are no stop request off the signalfd, so that it does not stay readable, and act on
// Ctrl-Z. A stop request stays pending for the caller.
void discard_idle_signals() {
    sigset_t idle;
    sigemptyset(&idle);
    for (int s : k_handled_signals) {
        if (!is_stop_request(s)) {
            sigaddset(&idle, s);
        }
    }
    const timespec zero{0, 0};
    int signo = 0;
    while ((signo = sigtimedwait(&idle, nullptr, &zero)) > 0) {
        if (signo == SIGTSTP) {
            stop_self(SIGTSTP);
        }
    }
}

}  // namespace

bool Supervisor::wait_for_console(ConsoleSink& sink, int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    while (sink.blocked()) {
        int left = -1;
        if (timeout_ms >= 0) {
            left = static_cast<int>(
                std::chrono::ceil<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count());
            if (left <= 0) {
                return false;
            }
        } else if (stop_signal_pending()) {
            return false;
        }
        // Without a limit the signalfd is watched too, so that a stop signal ends the wait
        // at once. (A limited wait is short; a stop signal pending then would keep the
        // signalfd readable.)
        pollfd fds[2] = {{sink.fd(), POLLOUT, 0}, {m_signal_fd, POLLIN, 0}};
        if (poll(fds, timeout_ms < 0 ? 2 : 1, left) < 0 && errno != EINTR) {
            return false;
        }
        if (fds[0].revents != 0) {
            sink.flush();
            return true;
        }
        if (timeout_ms < 0 && fds[1].revents != 0 && !stop_signal_pending()) {
            discard_idle_signals();
        }
    }
    return true;
}

void Supervisor::finish_sinks(bool stopped, bool wait) {
    for (auto& sink : m_sinks) {
        if (wait && m_stalled_consoles.count(sink.get()) != 0) {
            // Took nothing for its second after the stop: what waits is only notes (the rest
            // of a line, skip lines), and they get settle()'s one second, not one more here.
            continue;
        }
        while (sink->blocked()) {
            // What waits is whole lines (at most one read's worth, and the notes): the
            // console gets them as long as it takes some. Only after a stop, or a stop
            // signal while waiting, is one that takes nothing for k_stalled_console_ms
            // given up on.
            const bool limited = stopped || stop_signal_pending();
            // Past k_stop_drain only notes (a skip line, a line's rest) are still waited for.
            const bool bulk_overdue = stopped && std::chrono::steady_clock::now() >= m_stop_drain_until &&
                                      sink->waiting_bytes() > k_note_bytes;
            if (!wait || bulk_overdue ||
                (!wait_for_console(*sink, limited ? k_stalled_console_ms : -1) && limited)) {
                sink->give_up();
            }
        }
    }
}

void Supervisor::settle() {
    // The console the messages go to (stderr, which may be stdout's too) gets as long as
    // it takes; another gets k_stalled_console_ms without progress to finish its line,
    // as nothing else will be written to it.
    struct stat st{};
    const bool has_stderr = fstat(STDERR_FILENO, &st) == 0;
    for (auto& sink : m_sinks) {
        const bool messages = has_stderr && sink->is(st.st_dev, st.st_ino);
        while (sink->blocked() && wait_for_console(*sink, messages ? -1 : k_stalled_console_ms)) {
        }
    }
}

void Supervisor::close_inotify() {
    if (m_inotify_fd >= 0) {
        close(m_inotify_fd);
        m_inotify_fd = -1;
    }
}

void Supervisor::drain(Tap& tap, bool stopped, bool wait) {
    // Every writer is gone by now (workers reaped, leftovers killed): the file is
    // complete. Bounded by its size all the same, should a stranger still write to it.
    follow_truncation(tap);
    struct stat st{};
    if (fstat(tap.file_fd, &st) != 0 || lseek(tap.file_fd, 0, SEEK_CUR) < 0) {
        pump(tap, k_pump_budget);
        return;
    }
    const off_t end = st.st_size;
    if (stopped && end - lseek(tap.file_fd, 0, SEEK_CUR) > static_cast<off_t>(k_stop_backlog)) {
        skip_on_console(tap, end - static_cast<off_t>(k_stop_backlog), end);
    }
    while (true) {
        const off_t at = lseek(tap.file_fd, 0, SEEK_CUR);
        if (at < 0 || at >= end) {
            return;
        }
        if (stop_signal_pending()) {
            // Ctrl-C while the console catches up: stop waiting for it. The signal stays
            // pending for whoever runs next (a restart, the caller).
            skip_on_console(tap, end, end);
            return;
        }
        if (stopped && past_waiting(tap)) {
            // A stopped run's console still behind after k_stop_drain, or stalled: what it
            // has not taken is dropped (but the rest of a line it took in part), and one
            // line says where all of it is.
            if (tap.sink != nullptr) {
                tap.sink->give_up();
                tap.sink->resume();
            }
            skip_on_console(tap, end, end);
            return;
        }
        if (tap.paused()) {
            // The console is full. After a stop it gets k_stalled_console_ms to take more;
            // one that took nothing is then treated as past k_stop_drain (above), so the
            // skip line still goes to it, behind the rest of the line it took in part.
            if (!wait || !wait_for_console(*tap.sink, stopped ? k_stalled_console_ms : -1)) {
                if (!stop_signal_pending()) {
                    if (stopped) {
                        m_stalled_consoles.insert(tap.sink);
                        continue;
                    }
                    tap.sink->give_up();
                    return;
                }
            }
            continue;
        }
        pump(tap, std::min(k_pump_budget, static_cast<size_t>(end - at)));
        if (lseek(tap.file_fd, 0, SEEK_CUR) == at) {
            return;  // nothing more could be read
        }
    }
}

bool Supervisor::past_waiting(const Tap& tap) const {
    return std::chrono::steady_clock::now() >= m_stop_drain_until ||
           (tap.sink != nullptr && m_stalled_consoles.count(tap.sink) != 0);
}

void Supervisor::drain_pipe(Tap& tap, bool stopped, bool wait) {
    // Every writer is gone (workers reaped, leftovers killed): the pipe ends, and what it
    // holds is at most its capacity. Read until then, or until something that is no
    // process of ours (one the pipe was passed to) keeps it open.
    while (tap.file_fd >= 0) {
        if (stop_signal_pending() || (stopped && past_waiting(tap))) {
            // Ctrl-C while the console catches up, or a stopped run's console too slow.
            discard_pipe(tap);
            return;
        }
        if (tap.paused()) {
            if (!wait || !wait_for_console(*tap.sink, stopped ? k_stalled_console_ms : -1)) {
                if (!stop_signal_pending()) {
                    if (stopped) {
                        m_stalled_consoles.insert(tap.sink);
                    }
                    tap.sink->give_up();
                    discard_pipe(tap);
                    return;
                }
            }
            continue;
        }
        tap.backlog = false;
        pump(tap, k_pump_budget);
        if (tap.file_fd >= 0 && !tap.backlog && !tap.paused()) {
            return;  // nothing more to read now, yet not at the end: not ours to wait for
        }
    }
}

void Supervisor::discard_pipe(Tap& tap) {
    // What the console will not get still ends the failing rank's last words, which are
    // often the very last thing it wrote.
    if (m_read_buf.size() < k_read_chunk) {
        m_read_buf.resize(k_read_chunk);
    }
    for (int reads = 0; tap.file_fd >= 0 && reads < 64; ++reads) {
        const ssize_t n = read(tap.file_fd, m_read_buf.data(), m_read_buf.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        keep_recent(tap, static_cast<size_t>(n));
    }
}

void Supervisor::note_line_ended(Tap& tap) {
    if (tap.sink != nullptr && tap.prefixer.continues_a_piece() && !tap.sink->line_left_open_by(&tap)) {
        tap.prefixer.piece_ended_elsewhere();
    }
}

void Supervisor::end_line(Tap& tap) {
    note_line_ended(tap);
    const bool held = tap.prefixer.pending() > 0;
    m_out_buf.clear();
    tap.prefixer.finish(m_out_buf);
    if (tap.sink == nullptr || m_out_buf.empty()) {
        return;
    }
    if (held) {
        tap.sink->offer(m_out_buf, &tap);
    } else {
        // Only a piece handed out before (a flushed partial line, a long line's piece) is
        // left open, and another writer may have ended that line already: end it only if not.
        tap.sink->end_line(&tap);
    }
}

void Supervisor::close_gone_pipes() {
    // A console gone for good: every worker writing it through us gets EPIPE on its next
    // write, as it would writing there itself, and not one write later.
    for (auto& t : m_taps) {
        if (t->pipe && t->file_fd >= 0 && t->sink != nullptr && t->sink->gone()) {
            close(t->file_fd);
            t->file_fd = -1;
            t->partial_since.reset();
        }
    }
}

void Supervisor::keep_recent(Tap& tap, size_t n) {
    if (tap.recent == nullptr) {
        return;
    }
    // Trimmed in halves, so each byte is moved about once.
    std::string& kept = tap.recent->bytes;
    kept.append(m_read_buf.data(), n);
    if (kept.size() > 2 * k_recent_stderr) {
        kept.erase(0, kept.size() - k_recent_stderr);
    }
}

void Supervisor::skip_on_console(Tap& tap, off_t target, off_t end) {
    const off_t from = lseek(tap.file_fd, 0, SEEK_CUR);
    off_t resume = std::min(target, end);
    if (m_read_buf.size() < k_read_chunk) {
        m_read_buf.resize(k_read_chunk);
    }
    if (resume < end) {
        // Resume at a line start: the first newline at or after the target.
        const ssize_t n = pread(tap.file_fd, m_read_buf.data(), m_read_buf.size(), resume);
        const void* nl = n > 0 ? std::memchr(m_read_buf.data(), '\n', static_cast<size_t>(n)) : nullptr;
        if (nl) {
            resume += static_cast<const char*>(nl) - m_read_buf.data() + 1;
        }
    }
    if (from < 0 || resume <= from) {
        return;
    }
    lseek(tap.file_fd, resume, SEEK_SET);
    end_line(tap);  // the line cut short
    m_out_buf = tap.prefixer.prefix();
    m_out_buf += "accelerate launch: " + format_bytes(static_cast<std::uint64_t>(resume - from)) +
                 " of this output not shown here (the run was stopped); all of it is in " + tap.log_path + "\n";
    if (tap.sink != nullptr) {
        tap.sink->offer(m_out_buf, &tap);
    }
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
                kill(pid, SIGCONT);  // a stopped one would only take it when continued
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
            if (is_stop_request(static_cast<int>(info.ssi_signo))) {
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
