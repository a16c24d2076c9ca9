#include "acc/launch/job_control.hpp"

#include <csignal>

namespace acc::launch {

bool is_stop_signal(int signal) {
    return signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU || signal == SIGSTOP;
}

StopResponse respond_to_stop(const WorkerStop& stop) {
    if (stop.shutting_down || !is_stop_signal(stop.signal)) {
        return StopResponse::ignore;
    }
    if (stop.worker_has_terminal) {
        // The foreground of the terminal stopped (Ctrl-Z, or a stop meant for it): to the
        // shell the job is the launcher, so the launcher has to stop with it.
        return StopResponse::suspend_job;
    }
    if (stop.signal == SIGTTIN || stop.signal == SIGTTOU) {
        // It read the terminal (input(), pdb) or changed its modes (getpass) from the
        // background. With the terminal ours, we can let it; while another worker has
        // it, after that one; with the job in the background, only the shell can give
        // it: it stops the job and hands over the terminal on `fg`.
        if (stop.launcher_has_terminal) {
            return StopResponse::give_terminal;
        }
        if (stop.other_worker_has_terminal) {
            return StopResponse::wait_for_terminal;
        }
        return StopResponse::suspend_job;
    }
    return StopResponse::ignore;
}

}  // namespace acc::launch
