#include "acc/proc/kernel_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace acc::proc {

std::optional<std::string> read_kernel_file(const std::string& path, size_t limit) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    std::string out;
    char buf[4096];
    while (out.size() < limit) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            close(fd);
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    if (out.size() > limit) {
        out.resize(limit);
    }
    return out;
}

}  // namespace acc::proc
