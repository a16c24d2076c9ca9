#include "acc/cli/app.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "acc/cli/abbreviations.hpp"
#include "acc/cli/config_command.hpp"
#include "acc/cli/launch_command.hpp"
#include "acc/cli/launch_help.hpp"
#include "acc/util/console.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::cli {

namespace {

const char* const k_top_usage =
    "usage: accelerate <command> [<args>]\n"
    "\n"
    "positional arguments:\n"
    "  {config,estimate-memory,env,launch,merge-weights,tpu-config,test,to-fsdp2}\n"
    "                        accelerate command helpers\n"
    "\n"
    "options:\n"
    "  -h, --help            show this help message and exit\n";

const std::vector<std::string> k_commands = {"config",        "estimate-memory", "env",  "launch",
                                             "merge-weights", "tpu-config",      "test", "to-fsdp2"};

int dispatch(const std::vector<std::string>& args) {
    if (args.empty()) {
        print_stdout("{}", k_top_usage);  // upstream prints its help and exits 1
        return 1;
    }
    const std::string& command = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command.starts_with("--help=")) {
        // A value for --help it does not take: an error, as in argparse (whose top-level
        // parser takes no abbreviations: "--he" is refused below).
        expand_abbreviations({command}, ParserOptions{{"--help"}, {}, {}});
    }
    if (command == "--help" || is_help_cluster(command)) {
        print_stdout("{}", k_top_usage);
        return 0;
    }
    if (command == "launch") {
        try {
            return run_launch(rest);
        } catch (const UsageError& e) {
            print_stderr("accelerate launch: error: {} (see `accelerate launch -h`)\n", e.what());
            return 2;
        }
    }
    if (command == "config" || command == "env" || command == "test") {
        try {
            return command == "config" ? run_config(rest) : command == "env" ? run_env(rest) : run_test(rest);
        } catch (const UsageError& e) {
            print_stderr("accelerate {}\n", e.what());
            return 2;
        }
    }
    if (command == "estimate-memory" || command == "merge-weights" || command == "tpu-config" ||
        command == "to-fsdp2") {
        return run_with_python_package(command, rest);
    }
    std::string msg = fmt::format(
        "argument {{config,estimate-memory,env,launch,merge-weights,tpu-config,test,to-fsdp2}}: invalid choice: '{}' "
        "(choose from 'config', 'estimate-memory', 'env', 'launch', 'merge-weights', 'tpu-config', 'test', "
        "'to-fsdp2')",
        command);
    if (auto guess = closest_match(command, k_commands)) {
        msg += fmt::format("; did you mean '{}'?", *guess);
    }
    print_stderr("usage: accelerate <command> [<args>]\n");
    throw UsageError(msg);
}

}  // namespace

namespace {

int run_command(const std::vector<std::string>& args) {
    try {
        return dispatch(args);
    } catch (const UsageError& e) {
        print_stderr("accelerate: error: {}\n", e.what());
        return 2;
    } catch (const Error& e) {
        print_stderr("accelerate: error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        print_stderr("accelerate: internal error: {}\n", e.what());
        return 1;
    }
}

}  // namespace

int run_main(int argc, char** argv) {
    const int status = run_command(std::vector<std::string>(argv + 1, argv + argc));
    // Output that never arrived (a full disk, a closed stdout) fails a command that
    // otherwise succeeded, as coreutils do; a run's own status is left as it is.
    if (auto failure = stdout_write_failure(); failure && status == 0) {
        print_stderr("accelerate: error: could not write the output: {}\n", *failure);
        return 1;
    }
    return status;
}

}  // namespace acc::cli
