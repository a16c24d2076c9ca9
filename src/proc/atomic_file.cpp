#include "acc/proc/atomic_file.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "acc/util/error.hpp"

namespace acc::proc {

namespace {

std::string os_error(int err) { return std::strerror(err); }

}  // namespace

std::string parent_directory(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return "";
    }
    std::string head = path.substr(0, slash + 1);
    while (head.size() > 1 && head.back() == '/') {
        head.pop_back();
    }
    return head;
}

void make_directories(const std::string& path) {
    if (path.empty()) {
        return;
    }
    std::string cur;
    for (size_t i = 0; i <= path.size(); ++i) {
        if (i == path.size() || (path[i] == '/' && i > 0)) {
            cur = path.substr(0, i);
            struct stat st {};
            if (stat(cur.c_str(), &st) == 0) {
                if (!S_ISDIR(st.st_mode)) {
                    throw Error(fmt::format("cannot create the folder {}: {} exists and is not a folder", path, cur));
                }
                continue;
            }
            if (mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST) {
                throw Error(fmt::format("cannot create the folder {}: {}", cur, os_error(errno)));
            }
        }
    }
}

std::string resolve_symlinks(const std::string& path) {
    std::string current = path;
    for (int hops = 0; hops < 40; ++hops) {
        struct stat st {};
        if (lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
            return current;
        }
        std::string target(4096, '\0');
        const ssize_t n = readlink(current.c_str(), target.data(), target.size());
        if (n <= 0) {
            return current;
        }
        target.resize(static_cast<size_t>(n));
        if (target[0] != '/') {
            const std::string dir = parent_directory(current);
            target = dir.empty() ? target : (dir == "/" ? "/" : dir + "/") + target;
        }
        current = target;
    }
    throw Error(fmt::format("cannot write {}: {}", path, os_error(ELOOP)));
}

void write_file_atomically(const std::string& given_path, const std::string& content) {
    // A symlinked file (a config kept in a dotfiles repository) is updated where it
    // lives, as open(2) would write through the link; the link itself stays.
    const std::string path = resolve_symlinks(given_path);
    std::string dir = parent_directory(path);
    std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    if (base.empty()) {
        throw Error(fmt::format("cannot write {}: the path names a folder, not a file", path));
    }
    // Replacing by rename needs only the folder to be writable: a file its owner made
    // read-only would be replaced all the same. Refuse as writing it in place would.
    struct stat old {};
    const bool existed = stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode);
    if (existed && access(path.c_str(), W_OK) != 0) {
        throw Error(fmt::format("cannot write {}: {} (the file is not writable)", path, os_error(errno)));
    }
    std::random_device rd;
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        tmp = fmt::format("{}{}.{}.{:08x}.tmp", dir.empty() ? "" : dir + "/", "." + base, getpid(), rd());
        fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            throw Error(fmt::format("cannot write {}: {} (check that the folder exists and is writable)", path,
                                    os_error(errno)));
        }
    }
    if (fd < 0) {
        throw Error(fmt::format("cannot write {}: no free temporary name in its folder", path));
    }
    auto fail = [&](const std::string& what, int err) {
        close(fd);
        unlink(tmp.c_str());
        throw Error(fmt::format("cannot write {}: {}: {}", path, what, os_error(err)));
    };
    if (existed) {
        // The new file keeps the old one's owner (where we may give it: as root) and mode.
        if (fchown(fd, old.st_uid, old.st_gid) != 0) {
            // Not permitted (another user's file in our folder): ours, as a new file would be.
        }
        fchmod(fd, old.st_mode & 07777);
    }
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail("write failed", errno);
        }
        done += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0) {
        fail("fsync failed", errno);
    }
    if (close(fd) != 0) {
        int err = errno;
        unlink(tmp.c_str());
        throw Error(fmt::format("cannot write {}: close failed: {}", path, os_error(err)));
    }
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        unlink(tmp.c_str());
        throw Error(fmt::format("cannot write {}: {}", path, os_error(err)));
    }
    int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

void write_in_place(const std::string& path, const std::string& content, int patience_ms) {
    const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        throw Error(fmt::format("{}: {}", path,
                                errno == ENXIO ? "no process has that pipe open for reading" : std::strerror(errno)));
    }
    size_t done = 0;
    std::string failure;
    while (done < content.size() && failure.empty()) {
        const ssize_t n = write(fd, content.data() + done, content.size() - done);
        if (n > 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            failure = std::strerror(errno);
            break;
        }
        // Full: wait for room in short steps, so that a stop signal ends the wait soon.
        int waited = 0;
        while (true) {
            sigset_t pending;
            if (sigpending(&pending) == 0) {
                for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
                    if (sigismember(&pending, s) == 1) {
                        failure = "a stop signal came while its reader took nothing";
                    }
                }
            }
            if (!failure.empty()) {
                break;
            }
            if (waited >= patience_ms) {
                failure = fmt::format("its reader took nothing for {} s", patience_ms / 1000.0);
                break;
            }
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, 100) > 0) {
                break;
            }
            waited += 100;
        }
    }
    close(fd);
    if (!failure.empty()) {
        throw Error(fmt::format("{}: {} ({} of {} bytes written)", path, failure, done, content.size()));
    }
}

}  // namespace acc::proc
