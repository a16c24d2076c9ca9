// ConsoleSink on a real pipe: what each writer offers reaches the console whole, and a
// line one writer left open is ended before another writer's text.
#include "acc/proc/console_sink.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace {

// A pipe whose write end stands in for the launcher's stdout while the test runs.
struct PipeConsole {
    int read_end = -1;
    int saved_stdout = -1;
    PipeConsole() {
        int ends[2];
        EXPECT_EQ(pipe(ends), 0);
        read_end = ends[0];
        saved_stdout = dup(STDOUT_FILENO);
        dup2(ends[1], STDOUT_FILENO);
        close(ends[1]);
    }
    ~PipeConsole() {
        dup2(saved_stdout, STDOUT_FILENO);
        close(saved_stdout);
        close(read_end);
    }
    std::string take() {
        std::string got;
        fcntl(read_end, F_SETFL, O_NONBLOCK);
        char buf[4096];
        ssize_t n;
        while ((n = read(read_end, buf, sizeof buf)) > 0) {
            got.append(buf, static_cast<size_t>(n));
        }
        return got;
    }
};

}  // namespace

TEST(ConsoleSink, AnotherWritersTextStartsOnALineOfItsOwn) {
    PipeConsole console;
    auto sink = acc::proc::ConsoleSink::open(STDOUT_FILENO);
    int rank0 = 0, rank1 = 0;
    sink->offer("\rrank 0 50%", &rank0);
    sink->offer("\rrank 0 60%", &rank0);  // the same writer goes on with its line
    sink->offer("rank 1 line\n", &rank1);
    sink->offer("launcher note\n");
    EXPECT_EQ(console.take(), "\rrank 0 50%\rrank 0 60%\nrank 1 line\nlauncher note\n");
}

TEST(ConsoleSink, ALineLeftOpenIsEndedBeforeTheLaunchersOwnText) {
    PipeConsole console;
    auto sink = acc::proc::ConsoleSink::open(STDOUT_FILENO);
    int rank0 = 0;
    sink->offer("Password: ", &rank0);
    sink->offer("accelerate launch: received SIGINT\n");
    sink->offer("whole line\n", &rank0);
    EXPECT_EQ(console.take(), "Password: \naccelerate launch: received SIGINT\nwhole line\n");
}

TEST(ConsoleSink, AGoneConsoleSaysSo) {
    auto sink = [] {
        PipeConsole console;
        return acc::proc::ConsoleSink::open(STDOUT_FILENO);
    }();
    // The sink holds its own open of the pipe; with the reader closed, a write gets EPIPE.
    sigset_t pipe_mask;
    sigemptyset(&pipe_mask);
    sigaddset(&pipe_mask, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_mask, nullptr);
    EXPECT_FALSE(sink->gone());
    sink->offer("nobody reads this\n");
    EXPECT_TRUE(sink->gone());
    timespec zero{0, 0};
    sigtimedwait(&pipe_mask, nullptr, &zero);
    sigprocmask(SIG_UNBLOCK, &pipe_mask, nullptr);
}

TEST(ConsoleSink, EndLineOnlyEndsTheWritersOwnOpenLine) {
    PipeConsole console;
    auto sink = acc::proc::ConsoleSink::open(STDOUT_FILENO);
    int rank0 = 0, rank1 = 0;
    sink->offer("rank 0 piece", &rank0);
    sink->offer("rank 1 line\n", &rank1);  // ends rank 0's line first
    sink->end_line(&rank0);                // nothing left to end
    sink->offer("rank 1 piece", &rank1);
    sink->end_line(&rank0);                // not rank 0's line
    sink->end_line(&rank1);
    sink->end_line(&rank1);                // once only
    EXPECT_EQ(console.take(), "rank 0 piece\nrank 1 line\nrank 1 piece\n");
}
