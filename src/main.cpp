// accelerate: a native drop-in for Hugging Face Accelerate's command line.
#include <cstring>

#include "acc/cli/app.hpp"
#include "acc/proc/death_guard.hpp"

int main(int argc, char** argv) {
    // The kernel lays the argument strings out one after another; the guard process
    // writes its own name over its copy of them (see DeathGuard).
    char* end = argv[0] + std::strlen(argv[0]) + 1;
    for (int i = 1; i < argc && argv[i] == end; ++i) {
        end += std::strlen(argv[i]) + 1;
    }
    acc::proc::DeathGuard::remember_command_line(argv[0], end);
    return acc::cli::run_main(argc, argv);
}
