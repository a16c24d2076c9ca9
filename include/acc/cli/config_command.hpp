// `accelerate config` (wizard, default, update), `accelerate env`, `accelerate test`,
// and handing the subcommands we do not implement to the Python package.
#pragma once

#include <string>
#include <vector>

namespace acc::cli {

// Each takes the arguments after its subcommand name and returns the exit status.
// Usage errors are thrown as acc::UsageError, other failures as acc::Error.
int run_config(const std::vector<std::string>& args);
int run_env(const std::vector<std::string>& args);
int run_test(const std::vector<std::string>& args);

// `accelerate <command> args...` run by `python -m accelerate.commands.accelerate_cli`
// when the Python package is importable (this process is replaced); else an Error.
int run_with_python_package(const std::string& command, const std::vector<std::string>& args);

}  // namespace acc::cli
