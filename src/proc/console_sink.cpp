#include "acc/proc/console_sink.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace acc::proc {

bool joinable_console(int fd) {
    struct stat st{};
    if (fstat(fd, &st) != 0) {
        return false;
    }
    return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode);
}

std::unique_ptr<ConsoleSink> ConsoleSink::open(int console_fd) {
    std::unique_ptr<ConsoleSink> sink(new ConsoleSink());
    sink->m_fd = console_fd;
    struct stat st{};
    if (fstat(console_fd, &st) != 0) {
        sink->m_gone = true;
        return sink;
    }
    sink->m_dev = st.st_dev;
    sink->m_ino = st.st_ino;
    if (S_ISSOCK(st.st_mode)) {
        sink->m_socket = true;  // e.g. journald's stream under systemd
    } else if (!S_ISREG(st.st_mode)) {
        // A terminal or a pipe: opened again, non-blocking. A new open file description,
        // so O_NONBLOCK does not reach the shell or the workers that share the console's.
        // (A file never stalls, and opening it again would write at another offset.)
        const std::string path = "/proc/self/fd/" + std::to_string(console_fd);
        const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat again{};
        if (fd >= 0 && fstat(fd, &again) == 0 && again.st_dev == st.st_dev && again.st_ino == st.st_ino) {
            sink->m_fd = fd;
            sink->m_own_fd = true;
        } else {
            // Not ours to open again: another user's terminal or pipe (a container's stdout
            // when the job runs as non-root, after `su`). Its own fd blocks, so it is only
            // written when poll() says it has room, a pipe's atomic size at a time.
            if (fd >= 0) {
                close(fd);
            }
            // Only a pipe or a terminal can stall. Anything else on fd 1 or 2 (with the
            // console closed, one of our own descriptors may have taken its number) is
            // written as it is, and a write it refuses ends the sink.
            sink->m_guarded = S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode);
        }
    }
    return sink;
}

ConsoleSink::~ConsoleSink() {
    if (m_own_fd) {
        close(m_fd);
    }
}

ssize_t ConsoleSink::put(const char* data, size_t size) const {
    if (m_socket) {
        return send(m_fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (m_guarded) {
        pollfd p{m_fd, POLLOUT, 0};
        if (poll(&p, 1, 0) <= 0 || (p.revents & (POLLOUT | POLLERR | POLLHUP)) == 0) {
            errno = EAGAIN;
            return -1;
        }
        // With room for a write of PIPE_BUF, a pipe takes it without waiting; a terminal
        // that said it has room takes a piece this small at once too.
        size = std::min<size_t>(size, PIPE_BUF);
    }
    return write(m_fd, data, size);
}

size_t ConsoleSink::write_now(const char* data, size_t size) {
    size_t done = 0;
    while (done < size) {
        const ssize_t n = put(data + done, size - done);
        if (n > 0) {
            done += static_cast<size_t>(n);
            m_mid_line = data[done - 1] != '\n' && data[done - 1] != '\r';
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;  // full: the rest waits
        } else {
            m_gone = true;  // EPIPE (`| head` ended), EIO (terminal hung up), ENOSPC...
            break;
        }
    }
    return done;
}

void ConsoleSink::offer(std::string_view text, const void* writer) {
    if (m_gone || m_given_up || text.empty()) {
        return;
    }
    const void* who = writer != nullptr ? writer : this;
    if (m_open_line_writer != nullptr && m_open_line_writer != who) {
        m_open_line_writer = nullptr;
        offer("\n", who);
    }
    m_open_line_writer = text.back() == '\n' ? nullptr : who;
    if (blocked()) {
        m_pending.append(text);
        return;
    }
    // Straight from the caller's buffer; only what the console refuses is copied.
    const size_t done = write_now(text.data(), text.size());
    if (!m_gone && done < text.size()) {
        m_pending.assign(text.substr(done));
        m_written = 0;
    }
}

void ConsoleSink::end_line(const void* writer) {
    if (m_open_line_writer != nullptr && m_open_line_writer == (writer != nullptr ? writer : this)) {
        offer("\n", writer);
    }
}

void ConsoleSink::flush() {
    if (!blocked()) {
        return;
    }
    m_written += write_now(m_pending.data() + m_written, m_pending.size() - m_written);
    if (!blocked()) {
        m_pending.clear();  // all taken, or the console is gone
        m_written = 0;
    }
}

void ConsoleSink::give_up() {
    // What the console has not taken is in the log files. Only the rest of a line it took
    // in part is kept, to go before anything else.
    size_t keep = 0;
    if (m_mid_line && m_written < m_pending.size()) {
        size_t end = m_pending.find_first_of("\r\n", m_written);
        if (end == std::string::npos) {
            end = m_pending.size();
        } else if (m_pending[end] == '\r' && end + 1 < m_pending.size() && m_pending[end + 1] == '\n') {
            end += 2;
        } else {
            end += 1;
        }
        keep = end - m_written;
    }
    m_pending = m_pending.substr(std::min(m_written, m_pending.size()), keep);
    m_written = 0;
    m_given_up = true;
}

}  // namespace acc::proc
