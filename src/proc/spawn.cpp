#include "acc/proc/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace acc::proc {

Spawned spawn_process(const ProcessSpec& spec) {
    // Build every pointer array before fork: the child may only make async-signal-safe calls.
    std::vector<char*> argv;
    for (const auto& a : spec.argv) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : spec.envp) {
        envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);

    const pid_t parent = getpid();
    // vfork: the child borrows our memory until execve, so starting a worker copies no
    // page tables and leaves no copy-on-write faults behind. The child below makes only
    // plain system calls on data prepared above, as vfork requires. We resume only once
    // the child has exec'd or exited, so a failed execve is reported through our own
    // memory (volatile: written by the child in this very frame), no pipe needed.
    volatile int exec_error = 0;
    pid_t pid = vfork();
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "vfork");
    }
    if (pid == 0) {
        setpgid(0, 0);
        if (spec.take_terminal) {
            // A background group may only take the terminal with SIGTTOU blocked; the
            // mask is reset below anyway.
            sigset_t ttou;
            sigemptyset(&ttou);
            sigaddset(&ttou, SIGTTOU);
            sigprocmask(SIG_BLOCK, &ttou, nullptr);
            tcsetpgrp(STDIN_FILENO, getpid());
        }
        // Die with the launcher, even if it is SIGKILLed; the check closes the
        // race where the launcher died before prctl took effect.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        // dup2 clears close-on-exec on the copy; an fd that already is 1 or 2 keeps
        // the flag, so clear it by hand.
        for (auto [from, to] : {std::pair{spec.stdout_fd, 1}, std::pair{spec.stderr_fd, 2}}) {
            if (from == to) {
                fcntl(to, F_SETFD, 0);
            } else if (from >= 0) {
                dup2(from, to);
            }
        }
        // Handlers the launcher installed go back to the default before anything is
        // unblocked (a stop signal already pending must end this child as it would the
        // worker). The child has its own copy of the handlers: vfork shares memory only.
        struct sigaction fallback{};
        fallback.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; ++s) {
            struct sigaction current{};
            if (sigaction(s, nullptr, &current) == 0 && current.sa_handler != SIG_DFL &&
                current.sa_handler != SIG_IGN) {
                sigaction(s, &fallback, nullptr);
            }
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(spec.path.c_str(), argv.data(), envp.data());
        const int err = errno;
        exec_error = err;
        _exit(err == ENOENT ? 127 : 126);  // as a shell: not found / found but not runnable
    }
    // Also set the group here, so signalling the group works even before the child ran.
    setpgid(pid, pid);
    // Not tcsetpgrp here for take_terminal: the child did it before exec (vfork ran it
    // first), and from the background we would be stopped by SIGTTOU for trying.
    Spawned result;
    result.pid = pid;
    result.exec_errno = exec_error;
    return result;
}

}  // namespace acc::proc
