#include "acc/proc/quiet_thread.hpp"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "acc/util/error.hpp"

namespace acc::proc {

std::thread start_quiet_thread(const char* what, std::function<void()> body) {
    try {
        return std::thread([body = std::move(body)] {
            sigset_t all;
            sigfillset(&all);
            pthread_sigmask(SIG_BLOCK, &all, nullptr);
            body();
        });
    } catch (const std::system_error& e) {
        const int err = e.code().value();
        throw Error(fmt::format("could not start {}: {}{}", what, std::strerror(err),
                                err == EAGAIN ? " (a limit on processes: ulimit -u, or the cgroup's pids.max)" : ""));
    }
}

}  // namespace acc::proc
