// Where `--tee`'d lines go: the launcher's stdout or stderr, written without ever
// blocking. A console that takes nothing (a full pipe, a `less` nobody scrolls, a
// terminal frozen by Ctrl-S, a stalled ssh) must not keep the supervisor from serving
// signals, exits and failures: what the console has not taken yet waits here (whole
// lines only) until poll() says it takes more.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

namespace acc::proc {

// The launcher's `fd` (1 or 2) is a pipe, a file or a socket that several workers'
// output may be joined into (launch::join_shared_consoles); not a terminal, nor another
// character device such as /dev/null (where joining would only cost a copy), nor closed.
bool joinable_console(int fd);

class ConsoleSink {
  public:
    // A sink for the console on `console_fd` (1 or 2). A terminal or a pipe is opened
    // again, non-blocking (one that cannot be, its owner being another user, is written
    // only when poll() says it has room); a socket is written with send(MSG_DONTWAIT); a
    // file as it is.
    // A closed fd gives a sink that is gone from the start.
    static std::unique_ptr<ConsoleSink> open(int console_fd);
    ~ConsoleSink();
    ConsoleSink(const ConsoleSink&) = delete;
    ConsoleSink& operator=(const ConsoleSink&) = delete;

    // Write `text` (whole lines) as far as the console takes it now; keep the rest, behind
    // what waits already. Dropped once the sink is gone or given up. `writer` names who
    // offers it (a rank's copy; null: the launcher itself): a line one writer left open (a
    // prompt, a progress bar, a long line's piece) is ended with '\n' before another
    // writer's text, so two writers' text never runs together on one line.
    void offer(std::string_view text, const void* writer = nullptr);
    // End the line `writer` left open with '\n', unless another writer's text has ended it.
    void end_line(const void* writer);
    // `writer`'s last text ended no line, and nobody has ended that line since.
    bool line_left_open_by(const void* writer) const {
        return m_open_line_writer != nullptr && m_open_line_writer == (writer != nullptr ? writer : this);
    }
    // Write what waits as far as the console takes it now.
    void flush();
    // Drop what waits but the rest of a line the console took in part (so no line is ever
    // cut), and everything offered until resume().
    void give_up();
    void resume() { m_given_up = false; }

    // Something waits that the console has not taken (and it is worth waiting for).
    bool blocked() const { return !m_gone && !m_given_up && m_written < m_pending.size(); }
    // A write failed for good (EPIPE: `| head` is done; EIO, ENOSPC): output is dropped.
    bool gone() const { return m_gone; }
    // How much waits for the console.
    size_t waiting_bytes() const { return blocked() ? m_pending.size() - m_written : 0; }
    // The fd to poll for POLLOUT.
    int fd() const { return m_fd; }
    // The same file as `st_dev`/`st_ino` (stdout and stderr on one terminal share a sink).
    bool is(dev_t dev, ino_t ino) const { return m_dev == dev && m_ino == ino; }

  private:
    ConsoleSink() = default;
    // One write of as much as the console takes now; -1 with errno set.
    ssize_t put(const char* data, size_t size) const;
    // Write until the console is full or refuses; how much it took.
    size_t write_now(const char* data, size_t size);

    int m_fd = -1;          // a non-blocking open of the console, else the console's own fd
    bool m_own_fd = false;  // m_fd is ours to close
    bool m_socket = false;  // written with send(MSG_DONTWAIT)
    bool m_guarded = false; // the console's own blocking fd: written only when poll() allows
    dev_t m_dev = 0;
    ino_t m_ino = 0;
    std::string m_pending;
    size_t m_written = 0;     // how much of m_pending the console has taken
    bool m_gone = false;      // a write failed (EPIPE, EIO, ...): output is dropped from now on
    bool m_given_up = false;  // see give_up()
    bool m_mid_line = false;  // the last byte the console took ended no line
    const void* m_open_line_writer = nullptr;  // whose offered text ended no line, if any
};

}  // namespace acc::proc
