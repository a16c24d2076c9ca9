#include "acc/launch/job_control.hpp"

#include <gtest/gtest.h>

#include <csignal>

using namespace acc::launch;

namespace {

WorkerStop stop(int signal) {
    WorkerStop s;
    s.signal = signal;
    return s;
}

}  // namespace

TEST(JobControl, CtrlZOfTheForegroundWorkerSuspendsTheJob) {
    for (int sig : {SIGTSTP, SIGTTIN, SIGTTOU, SIGSTOP}) {
        WorkerStop s = stop(sig);
        s.worker_has_terminal = true;
        EXPECT_EQ(respond_to_stop(s), StopResponse::suspend_job) << sig;
    }
}

TEST(JobControl, AWorkerReadingTheTerminalGetsItWhenTheLauncherHasIt) {
    for (int sig : {SIGTTIN, SIGTTOU}) {
        WorkerStop s = stop(sig);
        s.launcher_has_terminal = true;
        EXPECT_EQ(respond_to_stop(s), StopResponse::give_terminal) << sig;
        s.launcher_has_terminal = false;
        s.other_worker_has_terminal = true;
        EXPECT_EQ(respond_to_stop(s), StopResponse::wait_for_terminal) << sig;
        // A job in the background: the shell must stop it and hand out the terminal on fg.
        s.other_worker_has_terminal = false;
        EXPECT_EQ(respond_to_stop(s), StopResponse::suspend_job) << sig;
    }
}

TEST(JobControl, StopsSentToABackgroundWorkerAreLeftAlone) {
    for (int sig : {SIGTSTP, SIGSTOP}) {
        WorkerStop s = stop(sig);
        s.launcher_has_terminal = true;
        EXPECT_EQ(respond_to_stop(s), StopResponse::ignore) << sig;
        s.launcher_has_terminal = false;
        EXPECT_EQ(respond_to_stop(s), StopResponse::ignore) << sig;
    }
}

TEST(JobControl, NothingIsResumedWhileTheJobIsBeingStopped) {
    WorkerStop s = stop(SIGTTIN);
    s.launcher_has_terminal = true;
    s.shutting_down = true;
    EXPECT_EQ(respond_to_stop(s), StopResponse::ignore);
    s = stop(SIGTSTP);
    s.worker_has_terminal = true;
    s.shutting_down = true;
    EXPECT_EQ(respond_to_stop(s), StopResponse::ignore);
}

TEST(JobControl, StopSignals) {
    EXPECT_TRUE(is_stop_signal(SIGTSTP));
    EXPECT_TRUE(is_stop_signal(SIGSTOP));
    EXPECT_FALSE(is_stop_signal(SIGINT));
    EXPECT_FALSE(is_stop_signal(SIGCONT));
    EXPECT_EQ(respond_to_stop(stop(SIGINT)), StopResponse::ignore);
}
