// SupervisorOptions::stop_fd and the callbacks the multi-machine link uses.
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "acc/proc/supervisor.hpp"

using namespace std::chrono_literals;
using acc::proc::ProcessSpec;
using acc::proc::Supervisor;
using acc::proc::SupervisorOptions;

namespace {

ProcessSpec child(std::vector<std::string> steps) {
    ProcessSpec spec;
    spec.path = ACC_TEST_CHILD;
    spec.argv = {ACC_TEST_CHILD};
    spec.argv.insert(spec.argv.end(), steps.begin(), steps.end());
    spec.envp = {"PATH=/usr/bin:/bin"};
    return spec;
}

}  // namespace

TEST(SupervisorStopFd, ReadableFdStopsTheJobLikeASignal) {
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(efd, 0);
    SupervisorOptions options;
    options.grace_period = 5s;
    options.stop_fd = efd;
    int failures = 0;
    options.on_first_failure = [&](size_t, const acc::launch::WaitStatus&) { ++failures; };
    Supervisor sup(options);
    std::thread poke([efd] {
        std::this_thread::sleep_for(300ms);
        std::uint64_t one = 1;
        ASSERT_EQ(write(efd, &one, sizeof one), 8);
    });
    auto t0 = std::chrono::steady_clock::now();
    auto out = sup.run({child({"forever"}), child({"forever"})});
    poke.join();
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(out.stopped_externally);
    EXPECT_FALSE(out.first_failure);  // the workers SIGTERMed by us are no failure
    EXPECT_FALSE(out.launcher_signal);
    EXPECT_EQ(failures, 0);
    for (const auto& w : out.workers) {
        EXPECT_TRUE(w.stopped_by_launcher);
        EXPECT_EQ(w.status.signal, SIGTERM);
    }
    EXPECT_LT(took, 3s);
    close(efd);
}

TEST(SupervisorStopFd, FirstFailureCallbackRunsOnceBeforeTheOthersStop) {
    SupervisorOptions options;
    options.grace_period = 5s;
    std::vector<size_t> seen;
    options.on_first_failure = [&](size_t idx, const acc::launch::WaitStatus& st) {
        seen.push_back(idx);
        EXPECT_EQ(st.code, 3);
    };
    Supervisor sup(options);
    auto out = sup.run({child({"forever"}), child({"sleep_ms", "100", "exit", "3"}), child({"forever"})});
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(*out.first_failure, 1u);
    EXPECT_EQ(seen, std::vector<size_t>{1});
    EXPECT_FALSE(out.stopped_externally);
}
