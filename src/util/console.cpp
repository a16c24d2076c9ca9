#include "acc/util/console.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace acc {

namespace {

int g_stdout_errno = 0;  // the first error writing stdout, 0 while none

}  // namespace

void write_stdout(std::string_view text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() && g_stdout_errno == 0) {
        g_stdout_errno = errno != 0 ? errno : EIO;
    }
}

void write_stderr(std::string_view text) {
    // Nowhere left to report a failure to: it is dropped.
    (void)!std::fwrite(text.data(), 1, text.size(), stderr);
}

std::optional<std::string> stdout_write_failure() {
    errno = 0;
    if (std::fflush(stdout) != 0 && g_stdout_errno == 0) {
        g_stdout_errno = errno != 0 ? errno : EIO;
    }
    if (g_stdout_errno == 0) {
        return std::nullopt;
    }
    return std::string(std::strerror(g_stdout_errno));
}

}  // namespace acc
