#include "acc/launch/exit_policy.hpp"

#include <fmt/format.h>

namespace acc::launch {

std::string signal_name(int signal) {
    // Linux numbering; spelled out so this stays free of <signal.h>.
    static const char* const names[] = {nullptr,   "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP",
                                        "SIGABRT", "SIGBUS",  "SIGFPE",    "SIGKILL", "SIGUSR1",  "SIGSEGV",
                                        "SIGUSR2", "SIGPIPE", "SIGALRM",   "SIGTERM", "SIGSTKFLT", "SIGCHLD",
                                        "SIGCONT", "SIGSTOP", "SIGTSTP",   "SIGTTIN", "SIGTTOU",  "SIGURG",
                                        "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",
                                        "SIGPWR",  "SIGSYS"};
    if (signal > 0 && signal < static_cast<int>(sizeof(names) / sizeof(names[0]))) {
        return names[signal];
    }
    return fmt::format("signal {}", signal);
}

std::string describe(const WaitStatus& status) {
    if (status.exited) {
        return fmt::format("exited with status {}", status.code);
    }
    return fmt::format("was killed by signal {} ({}{})", status.signal, signal_name(status.signal),
                       status.core_dumped ? ", core dumped" : "");
}

int job_exit_status(std::optional<int> launcher_signal, const std::optional<WaitStatus>& first_failure) {
    if (launcher_signal) {
        return 128 + *launcher_signal;
    }
    if (first_failure) {
        int s = first_failure->shell_status();
        return s == 0 ? 1 : s;
    }
    return 0;
}

}  // namespace acc::launch
