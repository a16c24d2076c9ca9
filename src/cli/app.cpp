#include "acc/cli/app.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>

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
    "  {launch,config,env,test}\n"
    "    launch      Launch a python script in a distributed scenario.\n"
    "    config      Create a default config file for Accelerate (not yet in this native build).\n"
    "    env         Print information about the environment (not yet in this native build).\n"
    "    test        Run accelerate's test script (not yet in this native build).\n"
    "\n"
    "options:\n"
    "  -h, --help  show this help message and exit\n";

int dispatch(const std::vector<std::string>& args) {
    if (args.empty()) {
        fmt::print(stderr, "{}", k_top_usage);
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
            fmt::print(stderr, "accelerate launch: error: {}\n", e.what());
            fmt::print(stderr, "(run `accelerate launch -h` for the list of flags)\n");
            return 2;
        }
    }
    if (command == "config" || command == "env" || command == "test" || command == "estimate-memory" ||
        command == "merge-weights" || command == "tpu-config" || command == "to-fsdp2") {
        throw Error(fmt::format("`accelerate {}` is not implemented by this native build yet; run it with the "
                                "Python package: python3 -m accelerate.commands.accelerate_cli {}",
                                command, command));
    }
    std::string msg = fmt::format("argument {{launch,config,env,test}}: invalid choice: '{}'", command);
    if (auto guess = closest_match(command, {"launch", "config", "env", "test"})) {
        msg += fmt::format(" (did you mean '{}'?)", *guess);
    }
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
