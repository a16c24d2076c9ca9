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

    // The child reports a failed execve through this pipe; close-on-exec makes
    // a successful exec show up as EOF.
    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    const pid_t parent = getpid();
    // vfork: the child borrows our memory until execve, so starting a worker copies no
    // page tables and leaves no copy-on-write faults behind. The child below makes only
    // plain system calls on data prepared above, as vfork requires.
    pid_t pid = vfork();
    if (pid < 0) {
        int err = errno;
        close(error_pipe[0]);
        close(error_pipe[1]);
        throw std::system_error(err, std::generic_category(), "vfork");
    }
    if (pid == 0) {
        close(error_pipe[0]);
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
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(spec.path.c_str(), argv.data(), envp.data());
        int err = errno;
        ssize_t ignored = write(error_pipe[1], &err, sizeof err);
        (void)ignored;
        _exit(err == ENOENT ? 127 : 126);  // as a shell: not found / found but not runnable
    }
    // Also set the group here, so signalling the group works even before the child ran.
    setpgid(pid, pid);
    if (spec.take_terminal) {
        tcsetpgrp(STDIN_FILENO, pid);  // same as the child did: whoever runs first wins the race
    }
    close(error_pipe[1]);
    Spawned result;
    result.pid = pid;
    int err = 0;
    ssize_t n;
    do {
        n = read(error_pipe[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof err)) {
        result.exec_errno = err;
    }
    close(error_pipe[0]);
    return result;
}

}  // namespace acc::proc
