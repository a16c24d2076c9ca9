// How a worker ended and what the launcher's exit status becomes. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

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

// One worker in the machine-readable verdict (--verdict_json).
struct WorkerVerdict {
    int rank = 0;
    int local_rank = 0;
    long pid = -1;  // -1: never started
    WaitStatus status;
    bool stopped_by_launcher = false;
    std::string exec_error;                // non-empty: it could not be started
    std::optional<std::string> error_file;  // TORCHELASTIC_ERROR_FILE, if any
    std::optional<std::string> root_cause;  // what the worker recorded there
};

// How the whole run ended, as --verdict_json writes it.
struct JobVerdict {
    int exit_status = 0;
    int attempts = 1;
    std::optional<int> launcher_signal;
    std::optional<size_t> first_failure;  // index into workers
    std::vector<WorkerVerdict> workers;   // of the last attempt
};

// {"result": "succeeded"|"failed"|"interrupted", "exit_status": N, ...}; one JSON
// object, newline-terminated.
std::string verdict_json(const JobVerdict& verdict);

}  // namespace acc::launch
