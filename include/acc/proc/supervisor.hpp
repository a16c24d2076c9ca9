// Run a group of workers to completion: one wait point (signalfd + poll) for
// worker exits and the launcher's signals; teardown of every process group.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acc/launch/exit_policy.hpp"
#include "acc/launch/line_splitter.hpp"
#include "acc/launch/output_spec.hpp"
#include "acc/proc/console_sink.hpp"
#include "acc/proc/spawn.hpp"

namespace acc::proc {

struct WorkerOutcome {
    pid_t pid = -1;
    launch::WaitStatus status;
    bool stopped_by_launcher = false;  // we signalled it before it ended
    int exec_errno = 0;
    // The system would not make the process at all (vfork failed: a process limit such
    // as `ulimit -u` or a cgroup's pids.max, or memory). Its status then reads exit 1.
    int fork_errno = 0;
    std::chrono::steady_clock::time_point ended;
    // Killed by SIGKILL that we did not send while the kernel's OOM-kill count rose.
    bool oom_killed = false;
};

struct GroupOutcome {
    std::vector<WorkerOutcome> workers;          // index = position in the specs
    std::optional<size_t> first_failure;         // the worker that failed first
    std::optional<int> launcher_signal;          // SIGINT/SIGTERM/SIGHUP/SIGQUIT received
    bool stopped_externally = false;             // SupervisorOptions::stop_fd fired first
};

// Where one worker's stdout and stderr go (default: inherited, as if started directly).
struct WorkerOutput {
    launch::WorkerStreams streams;
    std::string stdout_path;  // log files, for StreamMode::file / tee
    std::string stderr_path;
    std::string prefix;       // console prefix of tee'd lines, e.g. "[default0]:"
};

struct SupervisorOptions {
    std::chrono::milliseconds grace_period{30000};  // SIGTERM -> SIGKILL (torchrun: 30 s)
    // A stop request from outside (another machine's failure, see MachineLink): once this
    // fd is readable the workers are stopped as for a launcher signal (SIGTERM, SIGKILL
    // after the grace period) and GroupOutcome::stopped_externally is set. -1: none.
    int stop_fd = -1;
    // Called once, when the first worker fails, before the others are stopped.
    std::function<void(size_t index, const launch::WaitStatus& status)> on_first_failure{};
    // Called once, when the first stop signal reaches the launcher, before it is forwarded.
    std::function<void(int signo)> on_launcher_signal{};
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
    // The same, with each worker's output sent where `outputs[i]` says (files opened
    // here). A tee'd stream is written by the worker to its log file, as torchrun does,
    // and the launcher follows the file (inotify, in the same poll as the signals),
    // splitting it into lines written, prefixed, to the launcher's stdout/stderr: a
    // worker never waits for the console. What the files hold when the run ends
    // (workers reaped, leftovers killed) is printed before run() returns.
    // A joined stream is a pipe the launcher copies to its own fd, whole lines at a time
    // (a line left unfinished is handed out after k_partial_line_wait); nothing is dropped
    // while the job runs: a console that takes nothing holds its writers up, as it would
    // if they wrote it themselves.
    GroupOutcome run(const std::vector<ProcessSpec>& specs, const std::vector<WorkerOutput>& outputs);

    // What worker `index` of the last run wrote last to a joined stderr (up to 64 KiB, the
    // start of a line cut off), for the verdict; `with_stdout`: its stdout shared that pipe
    // (`2>&1`). Empty when its stderr was not joined.
    struct RecentOutput {
        std::string bytes;
        bool with_stdout = false;
    };
    const RecentOutput& recent_stderr(size_t index) const;

    // A signal that arrived between runs (e.g. during a restart), if any.
    std::optional<int> pending_signal();

    // Lines for the launcher's stderr after a run, through the same sink as the workers'
    // copied lines. Between attempts (the restart line) a console that takes nothing for
    // 1 s loses them rather than holding up the next attempt; the `last` words (the
    // verdict) wait as long as the console takes some, until a further stop signal.
    void tell(std::string_view text, bool last = false);
    // Before the launcher's last messages: the rest of a line the copy left unfinished is
    // written first: on stderr's console however long it takes (a message would wait as
    // long; a stop signal ends the wait), on another while it takes some within 1 s.
    void settle();

  private:
    void handle_signal(int signo, GroupOutcome& out, std::vector<bool>& live, const std::vector<pid_t>& pids);
    void stop_all(int signo, GroupOutcome& out, const std::vector<bool>& live, const std::vector<pid_t>& pids);
    // Worker `idx` failed, first unless another did: stop the others (SIGTERM, SIGKILL
    // after the grace period) and tell the caller's hook.
    void first_failure(size_t idx, GroupOutcome& out, const std::vector<bool>& live, const std::vector<pid_t>& pids);
    void reap(GroupOutcome& out, std::vector<bool>& live, const std::vector<pid_t>& pids, size_t& remaining);
    void wait_for_orphans(GroupOutcome& out, const std::vector<pid_t>& pids);
    // The job is being stopped (a failure, a launcher signal, an external stop).
    bool shutting_down(const GroupOutcome& out) const;

    // Job control: Ctrl-Z, fg and bg act on the whole job, and a worker that reads the
    // terminal gets it (see launch/job_control.hpp for the rules).
    // Workers that stopped since the last look: act on each as respond_to_stop says.
    void collect_stops(const GroupOutcome& out, const std::vector<bool>& live, const std::vector<pid_t>& pids);
    // SIGTSTP to every worker group, then stop the launcher (with `whole_group`, its whole
    // process group) by `signo`; resume on SIGCONT.
    void suspend_job(int signo, bool whole_group, const std::vector<bool>& live, const std::vector<pid_t>& pids);
    // Continued (`fg`, `bg`): give the terminal back to the worker that had it if the job
    // is in the foreground, and continue every worker group.
    void resume_job(const std::vector<bool>& live, const std::vector<pid_t>& pids);
    void give_terminal(pid_t worker);
    // The worker holding the terminal ended: the next one waiting for it, else the launcher, gets it.
    void pass_terminal_on(const std::vector<bool>& live, const std::vector<pid_t>& pids);
    // The run is over: if one of its workers is still the terminal's foreground, take it back.
    void reclaim_terminal(const std::vector<pid_t>& pids);
    // Our controlling terminal (stdin, else /dev/tty), or -1; its foreground group, or -1.
    int terminal();
    pid_t terminal_foreground();
    void set_terminal_foreground(pid_t group);
    void kill_orphans();
    // Our direct children right now (workers, and descendants reparented to us).
    static std::vector<pid_t> own_children();

    // One tee'd stream: our own read fd on the worker's log file, and the console. Or one
    // joined stream (StreamMode::joined): the read end of the worker's pipe, no prefix.
    struct Tap {
        int file_fd = -1;        // the log file, or the pipe (`pipe`); -1 once a pipe is at its end
        bool pipe = false;
        RecentOutput* recent = nullptr;  // a joined stderr: its last bytes are kept here
        // A joined stream's unfinished line has waited since then (see k_partial_line_wait).
        std::optional<std::chrono::steady_clock::time_point> partial_since;
        std::string log_path;    // the worker's log file, named when output is skipped on the console
        std::string watch_path;  // the file as inotify names it (/proc/self/fd/<file_fd>)
        int watch = -1;          // the armed one-shot inotify watch; -1 once it fired
        ConsoleSink* sink = nullptr;
        bool backlog = false;  // the last pump stopped before the end of the file (budget, or the console was full)
        launch::LinePrefixer prefixer;
        explicit Tap(std::string prefix) : prefixer(std::move(prefix)) {}
        bool paused() const { return sink != nullptr && sink->blocked(); }
    };
    // The sink for the console on `console_fd` (1 or 2), opened on first use; one per
    // destination, so stdout and stderr on the same terminal or pipe share it and their
    // lines cannot mix.
    ConsoleSink* console_sink(int console_fd);
    // Wait until the console takes more or `timeout_ms` passes; with -1, no time limit
    // but a pending stop signal ends the wait. False if it took nothing.
    bool wait_for_console(ConsoleSink& sink, int timeout_ms);
    // Opens the log files and the pipes of joined streams for `outputs`, setting the fds in
    // `specs`; our copies of the workers' fds, to close once they are spawned, go to `child_fds`.
    void open_outputs(std::vector<ProcessSpec>& specs, const std::vector<WorkerOutput>& outputs,
                      std::vector<int>& child_fds);
    // poll() on the signalfd and the file watches; moves tap output along. Returns poll's result.
    int poll_events(int timeout_ms);
    // A pipe for a joined stream going to `sink`: its write end (for the worker, also in
    // `child_fds`); its read end is a new tap.
    int join_stream(ConsoleSink* sink, std::vector<int>& child_fds, RecentOutput* recent = nullptr);
    // Joined streams whose unfinished line waited k_partial_line_wait: hand it out as it is.
    void flush_stale_partials();
    // The run is over: copy a joined stream's pipe to its end (every writer is gone).
    void drain_pipe(Tap& tap, bool stopped, bool wait);
    // Read what a joined stream's pipe still holds without showing it, for the verdict.
    void discard_pipe(Tap& tap);
    // End the tap's line on its console, if it is still open there.
    void end_line(Tap& tap);
    // Before more of the tap's text: if the console ended the line the tap left open (another
    // writer came between), its prefixer starts afresh.
    static void note_line_ended(Tap& tap);
    // Close the pipes of joined streams whose console is gone (EPIPE and the like).
    void close_gone_pipes();
    // The first `n` bytes of m_read_buf, just read from a joined stderr: keep its last words.
    void keep_recent(Tap& tap, size_t n);
    // Arm the tap's one-shot watch (again); false if inotify refuses.
    bool arm(Tap& tap);
    // No (more) inotify: from now on every tap is read at each wake-up, at least every 20 ms.
    void close_inotify();
    // Copy what the file holds beyond what was read, up to `budget` bytes, to the console.
    void pump(Tap& tap, size_t budget);
    // A file found shorter than what was read was truncated: read it again from its start.
    void follow_truncation(Tap& tap);
    // The run is over: print every tap to the end of its file, then close it. After a
    // stop (`stopped`: a signal, a failure) only the last k_stop_backlog of what each
    // console has not shown yet is printed, and a further stop signal cuts the rest:
    // the verdict and the exit are not held up by output that is in the files anyway.
    // Without `wait` (unwinding), nothing waits for a full console.
    void close_taps(bool stopped, bool wait = true);
    void drain(Tap& tap, bool stopped, bool wait);
    // Every sink written out. Without `wait` nothing is waited for; after a stop, or a
    // stop signal while waiting, a console that takes nothing for k_stalled_console_ms
    // is given up on.
    void finish_sinks(bool stopped, bool wait);
    // Move the tap's read position to the first line at or after `target` (or to
    // `end`), telling the console how much of the file it skipped and where it is.
    void skip_on_console(Tap& tap, off_t target, off_t end);
    std::vector<std::unique_ptr<Tap>> m_taps;
    std::vector<std::unique_ptr<ConsoleSink>> m_sinks;  // for the supervisor's life: attempts share them
    std::unique_ptr<ConsoleSink> m_closed_console;       // for a closed stdout/stderr: drops everything
    int m_inotify_fd = -1;  // -1 without taps, or when inotify is unavailable (then taps are polled)
    bool m_files_followed = false;  // some taps follow log files (--tee), not only pipes
    std::chrono::steady_clock::time_point m_taps_rest_until{};  // no tap reads before this
    size_t m_next_tap = 0;  // the tap each pumping round starts with, in turn
    std::chrono::steady_clock::time_point m_stop_drain_until{};  // after a stop: when consoles stop being waited for
    // After a stop, consoles that took nothing for k_stalled_console_ms: no other copy to
    // them waits again, nor does finish_sinks (until the taps are closed).
    std::set<const ConsoleSink*> m_stalled_consoles;
    // After a stop: the copy to this tap's console waits no longer (k_stop_drain is over,
    // or the console stalled).
    bool past_waiting(const Tap& tap) const;
    std::vector<RecentOutput> m_recent_stderr;  // per worker of the last run
    std::string m_read_buf;
    std::string m_out_buf;
    // The kernel's OOM-kill counter when the run started (-1: unknown).
    long m_oom_kills_at_start = -1;

    SupervisorOptions m_options;
    int m_signal_fd = -1;
    sigset_t m_old_mask{};
    // What each signal's action was before the forwarding handler (restored at the end).
    std::vector<std::pair<int, struct sigaction>> m_old_actions;
    std::optional<std::chrono::steady_clock::time_point> m_kill_deadline;
    int m_signals_seen = 0;
    bool m_stop_requested = false;  // options.stop_fd became readable
    int m_tty_fd = -1;
    int m_tty_owned_fd = -1;  // /dev/tty, when we had to open it
    bool m_tty_looked_up = false;
    pid_t m_terminal_holder = -1;  // the worker (group) that has, or gets on `fg`, the terminal
    std::vector<pid_t> m_terminal_waiters;  // workers stopped until the holder is done with it
};

}  // namespace acc::proc
