#include "acc/cli/app.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "acc/cli/config_command.hpp"
#include "acc/cli/launch_command.hpp"
#include "acc/cli/launch_help.hpp"
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
        fmt::print("{}", k_top_usage);  // upstream prints its help and exits 1
        return 1;
    }
    const std::string& command = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "-h" || command == "--help") {
        fmt::print("{}", k_top_usage);
        return 0;
    }
    if (command == "launch") {
        try {
            return run_launch(rest);
        } catch (const UsageError& e) {
            fmt::print(stderr, "accelerate launch: error: {} (see `accelerate launch -h`)\n", e.what());
            return 2;
        }
    }
    if (command == "config" || command == "env" || command == "test") {
        try {
            return command == "config" ? run_config(rest) : command == "env" ? run_env(rest) : run_test(rest);
        } catch (const UsageError& e) {
            fmt::print(stderr, "accelerate {}\n", e.what());
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
    fmt::print(stderr, "usage: accelerate <command> [<args>]\n");
    throw UsageError(msg);
}

}  // namespace

int run_main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        return dispatch(args);
    } catch (const UsageError& e) {
        fmt::print(stderr, "accelerate: error: {}\n", e.what());
        return 2;
    } catch (const Error& e) {
        fmt::print(stderr, "accelerate: error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "accelerate: internal error: {}\n", e.what());
        return 1;
    }
}

}  // namespace acc::cli
