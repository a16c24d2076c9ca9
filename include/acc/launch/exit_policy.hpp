// How a worker ended and what the launcher's exit status becomes. Pure.
#pragma once

#include <optional>
#include <string>

namespace acc::launch {

struct WaitStatus {
    bool exited = true;  // false: killed by `signal`
    int code = 0;
    int signal = 0;
    bool core_dumped = false;

    bool success() const { return exited && code == 0; }
    // The status a shell would report: the code, or 128+N for death by signal N.
    int shell_status() const { return exited ? code : 128 + signal; }
};

// "exited with status 3", "was killed by signal 11 (SIGSEGV, core dumped)".
std::string describe(const WaitStatus& status);
// "SIGTERM" for 15; "signal 77" when unnamed.
std::string signal_name(int signal);

// The launcher's exit status: a signal the launcher received wins (128+N),
// then the first failing worker's own status, else 0.
int job_exit_status(std::optional<int> launcher_signal, const std::optional<WaitStatus>& first_failure);

}  // namespace acc::launch
