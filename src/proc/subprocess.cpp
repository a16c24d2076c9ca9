#include "acc/proc/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>

#include "acc/proc/host_probe.hpp"

namespace acc::proc {

namespace {

std::vector<char*> c_args(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

int decode_status(int st) {
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return -1;
}

struct Child {
    pid_t pid = -1;
    int out_fd = -1;
    int err_fd = -1;
};

// stdout (and stderr when want_err) to pipes; stdin from /dev/null when quiet_in.
Child start(const std::vector<std::string>& argv_in, const Environment& env, bool want_err, bool quiet_in) {
    std::vector<std::string> argv = argv_in;
    std::string path = argv[0];
    if (path.find('/') == std::string::npos) {
        if (auto found = proc::find_executable(path, env)) {
            path = *found;
        }
    }
    std::vector<std::string> envp = env.to_envp();
    int out_pipe[2], err_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        return {};
    }
    if (want_err && pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return {};
    }
    auto a = c_args(argv);
    auto e = c_args(envp);
    pid_t pid = fork();
    if (pid == 0) {
        if (quiet_in) {
            int devnull = open("/dev/null", O_RDONLY);
            dup2(devnull, 0);
        }
        dup2(out_pipe[1], 1);
        if (want_err) {
            dup2(err_pipe[1], 2);
        } else {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
        }
        signal(SIGPIPE, SIG_DFL);
        execve(path.c_str(), a.data(), e.data());
        _exit(127);
    }
    close(out_pipe[1]);
    if (want_err) {
        close(err_pipe[1]);
    }
    if (pid < 0) {
        close(out_pipe[0]);
        if (want_err) {
            close(err_pipe[0]);
        }
        return {};
    }
    return {pid, out_pipe[0], want_err ? err_pipe[0] : -1};
}

}  // namespace

std::optional<std::string> find_python(const Environment& env) {
    if (auto exec = env.get_nonempty("PYTHON_EXEC")) {
        return *exec;
    }
    if (auto py3 = proc::find_executable("python3", env)) {
        return *py3;
    }
    if (auto py = proc::find_executable("python", env)) {
        return *py;
    }
    return std::nullopt;
}

Captured run_capture(const std::vector<std::string>& argv, const Environment& env, int timeout_s) {
    Captured result;
    Child child = start(argv, env, false, true);
    if (child.pid < 0) {
        return result;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    bool timed_out = false;
    char buf[4096];
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd pfd {child.out_fd, POLLIN, 0};
        int r = poll(&pfd, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            continue;
        }
        ssize_t n = read(child.out_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        result.out.append(buf, static_cast<size_t>(n));
    }
    close(child.out_fd);
    if (timed_out) {
        kill(child.pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(child.pid, &st, 0) < 0 && errno == EINTR) {
    }
    result.status = timed_out ? -1 : decode_status(st);
    return result;
}

int run_streaming(const std::vector<std::string>& argv, const Environment& env,
                  const std::function<void(const std::string&)>& on_stdout,
                  const std::function<void(const std::string&)>& on_stderr) {
    Child child = start(argv, env, true, false);
    if (child.pid < 0) {
        return -1;
    }
    std::string pending[2];
    int fds[2] = {child.out_fd, child.err_fd};
    bool open_fd[2] = {true, true};
    char buf[4096];
    auto emit = [&](int i, bool flush) {
        size_t pos;
        while ((pos = pending[i].find('\n')) != std::string::npos) {
            std::string line = pending[i].substr(0, pos);
            pending[i].erase(0, pos + 1);
            (i == 0 ? on_stdout : on_stderr)(line);
        }
        if (flush && !pending[i].empty()) {
            (i == 0 ? on_stdout : on_stderr)(pending[i]);
            pending[i].clear();
        }
    };
    while (open_fd[0] || open_fd[1]) {
        pollfd pfds[2];
        nfds_t count = 0;
        int which[2];
        for (int i = 0; i < 2; ++i) {
            if (open_fd[i]) {
                pfds[count] = {fds[i], POLLIN, 0};
                which[count++] = i;
            }
        }
        int r = poll(pfds, count, -1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (nfds_t k = 0; k < count; ++k) {
            if (!(pfds[k].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            int i = which[k];
            ssize_t n = read(fds[i], buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                open_fd[i] = false;
                emit(i, true);
                continue;
            }
            pending[i].append(buf, static_cast<size_t>(n));
            emit(i, false);
        }
    }
    close(child.out_fd);
    close(child.err_fd);
    int st = 0;
    while (waitpid(child.pid, &st, 0) < 0 && errno == EINTR) {
    }
    return decode_status(st);
}

void exec_replace(const std::vector<std::string>& argv_in) {
    std::vector<std::string> argv = argv_in;
    auto a = c_args(argv);
    execvp(argv[0].c_str(), a.data());
}

std::string self_executable() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) {
        return "accelerate";
    }
    return std::string(buf, static_cast<size_t>(n));
}

}  // namespace acc::proc
