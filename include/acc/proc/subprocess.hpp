// The Python the launcher would use, and small child-process helpers for env / test / forwarding.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "acc/util/environment.hpp"

namespace acc::proc {

// $PYTHON_EXEC, else python3 then python on PATH (as `launch` picks it).
std::optional<std::string> find_python(const Environment& env);

struct Captured {
    int status = -1;  // exit status, 128+N for death by signal N, -1 when it could not start or timed out
    std::string out;  // its stdout
};

// Run argv (argv[0] resolved along PATH unless it has a slash) with `env`,
// stdin from /dev/null, stderr discarded; kill it after `timeout_s`.
Captured run_capture(const std::vector<std::string>& argv, const Environment& env, int timeout_s);

// Run argv and hand every line of its stdout / stderr to the callbacks as it
// arrives (without the line end). Returns its exit status (128+N for signal N).
int run_streaming(const std::vector<std::string>& argv, const Environment& env,
                  const std::function<void(const std::string&)>& on_stdout,
                  const std::function<void(const std::string&)>& on_stderr);

// Replace this process with argv; returns only on failure (with errno set).
void exec_replace(const std::vector<std::string>& argv);

// This program's own path (/proc/self/exe).
std::string self_executable();

}  // namespace acc::proc
