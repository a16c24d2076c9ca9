// Start one worker: fork, its own process group, parent-death signal, execve.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace acc::proc {

struct ProcessSpec {
    std::string path;               // resolved executable
    std::vector<std::string> argv;  // argv[0] as the worker should see it
    std::vector<std::string> envp;  // complete environment, "KEY=VALUE"
    // When >= 0, the child's stdout / stderr become this fd (a log file or a pipe's
    // write end, opened close-on-exec); otherwise the launcher's own are inherited.
    int stdout_fd = -1;
    int stderr_fd = -1;
    // Make the child's process group the terminal's foreground group (stdin is that
    // terminal), so it can read from it (input(), pdb) and Ctrl-C reaches it directly.
    bool take_terminal = false;
};

struct Spawned {
    pid_t pid = -1;
    int exec_errno = 0;  // non-zero: execve failed in the child, which exited 127 (ENOENT) or 126
};

// Fork and exec `spec`. The child leads its own process group (so the whole
// group can be signalled), dies with SIGKILL if the launcher dies, and starts
// with an empty signal mask. Returns after the exec succeeded or failed.
// Throws std::system_error if fork itself fails.
Spawned spawn_process(const ProcessSpec& spec);

}  // namespace acc::proc
