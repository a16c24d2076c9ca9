// Job control for a job whose processes are the workers: Ctrl-Z, fg, bg, and workers
// that read the terminal. Decided as a shell decides for the processes of one job, so a
// run behaves at the terminal as if the script had been started directly. Pure: the
// supervisor reports what happened and carries out the answer.
#pragma once

namespace acc::launch {

// What the launcher does when one of its workers stops (SIGCHLD, CLD_STOPPED).
enum class StopResponse {
    ignore,             // a stop the launcher has no part in (`kill -STOP` of one rank)
    suspend_job,        // stop every worker, then the launcher: the shell sees the job stopped
    give_terminal,      // it touched the terminal from the background: hand it over, continue it
    wait_for_terminal,  // the same, but another worker has the terminal: hand it over when that one ends
};

struct WorkerStop {
    int signal = 0;                   // SIGTSTP, SIGTTIN, SIGTTOU or SIGSTOP
    bool worker_has_terminal = false;  // the stopped worker is the terminal's foreground
    bool launcher_has_terminal = false;
    bool other_worker_has_terminal = false;
    bool shutting_down = false;  // the job is being stopped (failure, signal): nothing to resume
};

StopResponse respond_to_stop(const WorkerStop& stop);

// Whether a signal is one that stops a process by default (SIGTSTP, SIGTTIN, SIGTTOU, SIGSTOP).
bool is_stop_signal(int signal);

}  // namespace acc::launch
