#include "acc/proc/death_guard.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace acc::proc {

namespace {

enum Op : std::int32_t { k_watch = 1, k_forget = 2, k_goodbye = 3 };

struct Message {
    std::int32_t op;
    std::int32_t group;
};

// Enough for every local worker of any machine; the guard's copy of it is written after
// fork, where a multi-threaded launcher's child may not allocate.
constexpr int k_max_groups = 4096;
pid_t g_groups[k_max_groups];

// The guard's whole life, in the forked child: only system calls from here on.
[[noreturn]] void guard_main(int read_fd) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    setpgid(0, 0);  // a kill of the launcher's whole group spares it
    prctl(PR_SET_NAME, "acc-guard");  // what ps shows (15 characters at most)
    // Hold nothing of the job: no console, log, socket or pipe end stays open here.
    if (read_fd != 0) {
        dup2(read_fd, 0);
    }
    if (syscall(SYS_close_range, 1U, ~0U, 0U) != 0) {
        for (int fd = 1; fd < 4096; ++fd) {
            close(fd);
        }
    }
    int count = 0;
    Message m{};
    while (true) {
        const ssize_t n = read(0, &m, sizeof m);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != static_cast<ssize_t>(sizeof m)) {
            break;  // end of file: the launcher is gone
        }
        if (m.op == k_goodbye) {
            _exit(0);
        }
        if (m.op == k_watch && count < k_max_groups) {
            g_groups[count++] = m.group;
        } else if (m.op == k_forget) {
            for (int i = 0; i < count; ++i) {
                if (g_groups[i] == m.group) {
                    g_groups[i] = g_groups[--count];
                    break;
                }
            }
        }
    }
    for (int i = 0; i < count; ++i) {
        kill(-g_groups[i], SIGKILL);
    }
    _exit(0);
}

}  // namespace

DeathGuard::DeathGuard() {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) {
        return;
    }
    const pid_t pid = fork();
    if (pid == 0) {
        guard_main(ends[0]);
    }
    close(ends[0]);
    if (pid < 0) {
        close(ends[1]);
        return;
    }
    // Never wait on the guard: should it be stopped and the pipe fill, a message is lost
    // rather than the launcher held up.
    fcntl(ends[1], F_SETFL, O_NONBLOCK);
    setpgid(pid, pid);  // also here, so it holds whichever of us runs first
    m_pid = pid;
    m_fd = ends[1];
}

DeathGuard::~DeathGuard() {
    if (m_pid < 0) {
        return;
    }
    send(k_goodbye, 0);
    close(m_fd);
    while (waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

void DeathGuard::watch(pid_t group) { send(k_watch, group); }

void DeathGuard::forget(pid_t group) { send(k_forget, group); }

void DeathGuard::send(int op, pid_t group) {
    if (m_fd < 0) {
        return;
    }
    const Message m{op, static_cast<std::int32_t>(group)};
    // 8 bytes: one atomic write. A guard that is gone gives EPIPE (SIGPIPE is blocked
    // while the supervisor lives, and so while the guard does).
    while (write(m_fd, &m, sizeof m) < 0 && errno == EINTR) {
    }
}

}  // namespace acc::proc
