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

namespace {

std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    out += fmt::format("\\u{:04x}", c);
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

std::string quote_or_null(const std::optional<std::string>& s) {
    return s ? quote(*s) : "null";
}

std::string worker_json(const WorkerVerdict& w) {
    bool started = w.pid > 0;  // a failed exec ended too: with 127 (not found) or 126
    std::string how = !w.exec_error.empty() ? "could not start: " + w.exec_error
                      : w.pid > 0         ? describe(w.status)
                                          : "not started";
    return fmt::format(
        "{{\"rank\": {}, \"local_rank\": {}, \"pid\": {}, \"exit_code\": {}, \"signal\": {}, "
        "\"status\": {}, \"description\": {}, \"stopped_by_launcher\": {}, \"error_file\": {}, "
        "\"root_cause\": {}}}",
        w.rank, w.local_rank, w.pid > 0 ? std::to_string(w.pid) : "null",
        started && w.status.exited ? std::to_string(w.status.code) : "null",
        started && !w.status.exited ? quote(signal_name(w.status.signal)) : "null",
        started ? std::to_string(w.status.shell_status()) : "null", quote(how),
        w.stopped_by_launcher ? "true" : "false", quote_or_null(w.error_file), quote_or_null(w.root_cause));
}

}  // namespace

std::string verdict_json(const JobVerdict& v) {
    const char* result = v.launcher_signal ? "interrupted" : v.exit_status == 0 ? "succeeded" : "failed";
    std::string workers;
    for (const auto& w : v.workers) {
        workers += (workers.empty() ? "\n    " : ",\n    ") + worker_json(w);
    }
    return fmt::format(
        "{{\n  \"result\": \"{}\",\n  \"exit_status\": {},\n  \"launcher_signal\": {},\n  \"attempts\": {},\n"
        "  \"first_failure\": {},\n  \"workers\": [{}\n  ]\n}}\n",
        result, v.exit_status, v.launcher_signal ? quote(signal_name(*v.launcher_signal)) : "null", v.attempts,
        v.first_failure && *v.first_failure < v.workers.size() ? worker_json(v.workers[*v.first_failure]) : "null",
        workers);
}

}  // namespace acc::launch
