// The supervisor with real child processes (tests/children/test_child.cpp).
// Every process a test starts carries ACC_TEST_MARKER=<unique> in its
// environment, so "nothing of the job survives" is checked by scanning /proc.
#include "acc/proc/supervisor.hpp"

#include <dirent.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;
using acc::proc::GroupOutcome;
using acc::proc::ProcessSpec;
using acc::proc::Supervisor;
using acc::proc::SupervisorOptions;
using Clock = std::chrono::steady_clock;

namespace {

long ms_between(Clock::time_point a, Clock::time_point b) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<long> read_numbers(const std::string& path) {
    std::ifstream in(path);
    std::vector<long> v;
    for (long x; in >> x;) {
        v.push_back(x);
    }
    return v;
}

// A live process (a zombie counts as gone: it runs no code and holds nothing).
bool alive(pid_t pid) {
    std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    if (stat.empty()) {
        return false;
    }
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Pids of live processes whose environment holds `marker`.
std::vector<pid_t> processes_with(const std::string& marker) {
    std::vector<pid_t> found;
    const std::string needle = "ACC_TEST_MARKER=" + marker;
    DIR* d = opendir("/proc");
    while (dirent* e = readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0) {
            continue;
        }
        std::string env = slurp(std::string("/proc/") + e->d_name + "/environ");
        std::stringstream ss(env);
        for (std::string entry; std::getline(ss, entry, '\0');) {
            if (entry == needle && alive(static_cast<pid_t>(pid))) {
                found.push_back(static_cast<pid_t>(pid));
            }
        }
    }
    closedir(d);
    return found;
}

// Waits (generously) until `pred` holds; the tests' "eventually".
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

class SupervisorTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/acc_proc_test_XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        m_dir = pattern;
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        m_marker = std::string(info->name()) + "_" + std::to_string(getpid());
    }
    void TearDown() override {
        // Whatever a failed test left behind goes now, so it cannot disturb the next.
        for (pid_t pid : processes_with(m_marker)) {
            kill(pid, SIGKILL);
        }
        while (waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        std::filesystem::remove_all(m_dir);
    }

    std::string file(const std::string& name) const { return m_dir + "/" + name; }

    ProcessSpec child(std::vector<std::string> steps) const {
        ProcessSpec spec;
        spec.path = ACC_TEST_CHILD;
        spec.argv.push_back("test_child");
        for (auto& s : steps) {
            spec.argv.push_back(std::move(s));
        }
        spec.envp = {"ACC_TEST_MARKER=" + m_marker, "PATH=/usr/bin:/bin"};
        return spec;
    }

    std::vector<pid_t> survivors() const { return processes_with(m_marker); }

    // `worker` fails on its own while two siblings sleep (honouring SIGTERM):
    // the siblings are stopped within 100 ms of the failure being seen.
    GroupOutcome expect_fast_teardown(std::vector<std::string> failing, int shell_status) {
        Supervisor sup(SupervisorOptions{30s});
        GroupOutcome out = sup.run({child({"forever"}), child(std::move(failing)), child({"forever"})});
        EXPECT_TRUE(out.first_failure.has_value());
        EXPECT_EQ(out.first_failure.value_or(99), 1u);
        EXPECT_FALSE(out.launcher_signal.has_value());
        const auto& failed = out.workers[1];
        EXPECT_EQ(failed.status.shell_status(), shell_status);
        EXPECT_FALSE(failed.stopped_by_launcher);
        for (size_t i : {0u, 2u}) {
            const auto& w = out.workers[i];
            EXPECT_TRUE(w.stopped_by_launcher) << "worker " << i;
            EXPECT_FALSE(w.status.exited) << "worker " << i;
            EXPECT_EQ(w.status.signal, SIGTERM) << "worker " << i;
            EXPECT_LT(ms_between(failed.ended, w.ended), 100) << "worker " << i << " outlived the failure";
        }
        EXPECT_TRUE(survivors().empty());
        return out;
    }

    std::string m_dir;
    std::string m_marker;
};

// Sends `signo` to this process `count` times, `gap` apart, once `ready_file`
// holds `ready_lines` lines. Started after the Supervisor exists, so the thread
// inherits its blocked mask and the signal queues on the signalfd.
std::thread signal_self_when_ready(std::string ready_file, size_t ready_lines, int signo, int count,
                                   std::chrono::milliseconds gap) {
    return std::thread([=] {
        eventually([&] { return read_numbers(ready_file).size() >= ready_lines; });
        for (int k = 0; k < count; ++k) {
            if (k > 0) {
                std::this_thread::sleep_for(gap);
            }
            kill(getpid(), signo);
        }
    });
}

}  // namespace

TEST_F(SupervisorTest, AllSucceed) {
    Supervisor sup(SupervisorOptions{30s});
    GroupOutcome out = sup.run({child({"exit", "0"}), child({"sleep_ms", "50", "exit", "0"})});
    EXPECT_FALSE(out.first_failure);
    EXPECT_FALSE(out.launcher_signal);
    for (const auto& w : out.workers) {
        EXPECT_TRUE(w.status.success());
        EXPECT_GT(w.pid, 0);
        EXPECT_FALSE(w.stopped_by_launcher);
    }
}

TEST_F(SupervisorTest, ExitThreeStopsTheOthersAtOnce) {
    expect_fast_teardown({"sleep_ms", "100", "exit", "3"}, 3);
}

// Processes of `uid` alive now (RLIMIT_NPROC counts them all).
int processes_of(uid_t uid) {
    int count = 0;
    DIR* d = opendir("/proc");
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        const std::string status = slurp(std::string("/proc/") + e->d_name + "/status");
        if (status.find("\nUid:\t" + std::to_string(uid) + "\t") != std::string::npos) {
            ++count;
        }
    }
    closedir(d);
    return count;
}

TEST_F(SupervisorTest, AWorkerTheSystemWillNotForkIsAFailureAndTheOthersAreStopped) {
    // A process limit (ulimit -u, a cgroup's pids.max) lets the first two workers start
    // and refuses the third: that is rank 2's failure, the two running ones are stopped
    // in order, and nothing is thrown at the caller. Run as `nobody` in a helper process,
    // with RLIMIT_NPROC at what that user has plus the helper and two workers.
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root to become another user";
    }
    const uid_t nobody = 65534;
    int report[2];
    ASSERT_EQ(pipe(report), 0);
    const int limit = processes_of(nobody) + 3;
    const pid_t helper = fork();
    ASSERT_GE(helper, 0);
    if (helper == 0) {
        close(report[0]);
        rlimit nproc{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
        if (setrlimit(RLIMIT_NPROC, &nproc) != 0 || setgid(nobody) != 0 || setuid(nobody) != 0) {
            _exit(90);
        }
        std::string result;
        try {
            Supervisor sup(SupervisorOptions{30s});
            GroupOutcome out = sup.run({child({"forever"}), child({"forever"}), child({"forever"})});
            const auto& refused = out.workers[2];
            result = fmt::format("first={} fork_errno={} status={} stopped={}{} signals={},{} pid2={}",
                                 out.first_failure.value_or(99), refused.fork_errno, refused.status.shell_status(),
                                 out.workers[0].stopped_by_launcher, out.workers[1].stopped_by_launcher,
                                 out.workers[0].status.signal, out.workers[1].status.signal, refused.pid);
        } catch (const std::exception& e) {
            result = std::string("threw: ") + e.what();
        }
        (void)!write(report[1], result.data(), result.size());
        _exit(0);
    }
    close(report[1]);
    std::string result;
    char buf[256];
    for (ssize_t n; (n = read(report[0], buf, sizeof buf)) > 0;) {
        result.append(buf, static_cast<size_t>(n));
    }
    close(report[0]);
    int status = 0;
    ASSERT_EQ(waitpid(helper, &status, 0), helper);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "helper status " << status;
    EXPECT_EQ(result, fmt::format("first=2 fork_errno={} status=1 stopped=truetrue signals={},{} pid2=-1", EAGAIN,
                                  SIGTERM, SIGTERM));
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, SegfaultIsSignal11AndStatus139) {
    auto out = expect_fast_teardown({"sleep_ms", "100", "segv"}, 139);
    EXPECT_EQ(out.workers[1].status.signal, SIGSEGV);
}

TEST_F(SupervisorTest, SigkilledWorkerIsStatus137) {
    auto out = expect_fast_teardown({"sleep_ms", "100", "raise", "KILL"}, 137);
    EXPECT_EQ(out.workers[1].status.signal, SIGKILL);
}

TEST_F(SupervisorTest, TheFirstFailureIsNamedNotTheLater) {
    Supervisor sup(SupervisorOptions{30s});
    // Rank 2 fails first. Rank 0 then exits 143 from its SIGTERM handler and
    // rank 1 is killed by SIGTERM: consequences, not the first failure.
    auto out = sup.run({child({"record", file("sig0"), "forever"}), child({"sleep_ms", "2000", "exit", "4"}),
                        child({"sleep_ms", "100", "exit", "7"})});
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(*out.first_failure, 2u);
    EXPECT_EQ(out.workers[2].status.code, 7);
    EXPECT_EQ(out.workers[1].status.signal, SIGTERM);
    EXPECT_TRUE(out.workers[1].stopped_by_launcher);
    EXPECT_EQ(out.workers[0].status.code, 128 + SIGTERM);
    EXPECT_EQ(read_numbers(file("sig0")), std::vector<long>{SIGTERM});
}

TEST_F(SupervisorTest, AnInheritedIgnoredSigchldDoesNotHideTheWorkers) {
    // With SIGCHLD ignored the kernel reaps children itself; the wait would never end.
    signal(SIGCHLD, SIG_IGN);
    Supervisor sup(SupervisorOptions{30s});
    auto out = sup.run({child({"exit", "0"}), child({"sleep_ms", "50", "exit", "3"})});
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(*out.first_failure, 1u);
    EXPECT_EQ(out.workers[1].status.code, 3);
    EXPECT_TRUE(out.workers[0].status.success());
}

TEST_F(SupervisorTest, ARequestTheLauncherWasStartedToIgnoreStaysIgnored) {
    // nohup: SIGHUP ignored. It stops nothing, and the workers inherit the disposition.
    signal(SIGHUP, SIG_IGN);
    GroupOutcome out;
    {
        Supervisor sup(SupervisorOptions{300ms});
        std::thread hangup = signal_self_when_ready(file("ready"), 2, SIGHUP, 1, 0ms);
        out = sup.run({child({"pidfile", file("ready"), "sleep_ms", "400", "exit", "0"}),
                       child({"pidfile", file("ready"), "sleep_ms", "400", "exit", "0"})});
        hangup.join();
    }
    signal(SIGHUP, SIG_DFL);
    EXPECT_FALSE(out.launcher_signal);
    EXPECT_FALSE(out.first_failure);
    for (const auto& w : out.workers) {
        EXPECT_TRUE(w.status.success());
        EXPECT_FALSE(w.stopped_by_launcher);
    }
}

TEST_F(SupervisorTest, AStoppedWorkerIsStoppedAtOnceNotAfterTheGracePeriod) {
    // Someone stopped rank 0 (kill -STOP, a debugger). SIGTERM alone would wait for a
    // SIGCONT that never comes, until SIGKILL at the end of the grace period.
    Supervisor sup(SupervisorOptions{30s});
    auto out = sup.run({child({"raise", "STOP", "forever"}), child({"sleep_ms", "300", "exit", "1"})});
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(*out.first_failure, 1u);
    EXPECT_FALSE(out.workers[0].status.exited);
    EXPECT_EQ(out.workers[0].status.signal, SIGTERM);
    EXPECT_LT(ms_between(out.workers[1].ended, out.workers[0].ended), 1000);
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, WorkerIgnoringSigtermWithChildrenIsKilledAfterTheGracePeriod) {
    Supervisor sup(SupervisorOptions{300ms});
    auto out = sup.run({child({"ignore", "TERM", "fork_sleep", "2", file("kids"), "forever"}),
                        child({"sleep_ms", "200", "exit", "1"})});
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(*out.first_failure, 1u);
    const auto& stubborn = out.workers[0];
    EXPECT_EQ(stubborn.status.signal, SIGKILL);
    EXPECT_TRUE(stubborn.stopped_by_launcher);
    long waited = ms_between(out.workers[1].ended, stubborn.ended);
    EXPECT_GE(waited, 250) << "SIGKILL came before the grace period ended";
    EXPECT_LT(waited, 3000) << "SIGKILL came long after the grace period";
    auto kids = read_numbers(file("kids"));
    EXPECT_EQ(kids.size(), 2u);
    for (long pid : kids) {
        EXPECT_FALSE(alive(static_cast<pid_t>(pid))) << "the worker's child " << pid << " survived";
    }
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, ChildrenOfAStoppedWorkerGetTheGracePeriodToo) {
    // Worker 0 dies at once on SIGTERM; its child takes 300 ms to finish its own
    // SIGTERM handler. It must not be SIGKILLed when its parent exits.
    Supervisor sup(SupervisorOptions{30s});
    auto out = sup.run({child({"record", file("sig0"), "record_delay", "300", "fork_sleep", "1", file("kids"),
                               "record_delay", "0", "pidfile", file("ready"), "forever"}),
                        child({"sleep_ms", "200", "exit", "1"})});
    EXPECT_EQ(out.first_failure.value_or(99), 1u);
    EXPECT_EQ(read_numbers(file("sig0")), (std::vector<long>{SIGTERM, SIGTERM}));
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, ChildIgnoringSigtermOfAStoppedWorkerIsKilledAtTheDeadline) {
    Supervisor sup(SupervisorOptions{400ms});
    auto start = Clock::now();
    auto out = sup.run({child({"ignore", "TERM", "fork_sleep", "1", file("kids"), "record", file("sig0"),
                               "pidfile", file("ready"), "forever"}),
                        child({"sleep_ms", "200", "exit", "1"})});
    long took = ms_between(start, Clock::now());
    EXPECT_EQ(out.workers[0].status.code, 128 + SIGTERM);
    EXPECT_GE(took, 200 + 350) << "the child was not given the grace period";
    EXPECT_LT(took, 5000);
    auto kids = read_numbers(file("kids"));
    ASSERT_EQ(kids.size(), 1u);
    EXPECT_FALSE(alive(static_cast<pid_t>(kids[0])));
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, ChildrenLeftByASucceedingWorkerAreStopped) {
    Supervisor sup(SupervisorOptions{30s});
    auto out = sup.run({child({"ignore", "TERM", "fork_sleep", "2", file("kids"), "sleep_ms", "100", "exit", "0"})});
    EXPECT_FALSE(out.first_failure);
    EXPECT_EQ(read_numbers(file("kids")).size(), 2u);
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, ExecFailureIsReported) {
    Supervisor sup(SupervisorOptions{30s});
    ProcessSpec missing = child({});
    missing.path = file("does-not-exist");
    auto out = sup.run({child({"forever"}), missing});
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(*out.first_failure, 1u);
    EXPECT_EQ(out.workers[1].exec_errno, ENOENT);
    EXPECT_EQ(out.workers[1].status.shell_status(), 127);
    EXPECT_EQ(out.workers[0].status.signal, SIGTERM);
    EXPECT_EQ(out.workers[0].exec_errno, 0);
    EXPECT_TRUE(survivors().empty());

    ProcessSpec not_executable = child({});
    not_executable.path = file("plain.txt");
    std::ofstream(not_executable.path) << "not a program\n";
    out = sup.run({not_executable});
    EXPECT_EQ(out.first_failure.value_or(99), 0u);
    EXPECT_EQ(out.workers[0].exec_errno, EACCES);
    EXPECT_EQ(out.workers[0].status.shell_status(), 126);
}

TEST_F(SupervisorTest, OrphanedGrandchildrenInTheirOwnSessionAreSwept) {
    Supervisor sup(SupervisorOptions{30s});
    auto out = sup.run({child({"orphan", file("orphans"), "exit", "0"}), child({"sleep_ms", "50", "exit", "0"})});
    EXPECT_FALSE(out.first_failure);
    auto orphans = read_numbers(file("orphans"));
    ASSERT_EQ(orphans.size(), 2u);
    for (long pid : orphans) {
        EXPECT_FALSE(alive(static_cast<pid_t>(pid))) << "orphan " << pid << " survived the run";
    }
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, OrphansOfAFailedRunGetTheStopSignalAndAreSwept) {
    // The orphans live in their own session: the worker's group signal misses them,
    // so the launcher sends them SIGTERM itself rather than wait out the grace period.
    Supervisor sup(SupervisorOptions{30s});
    auto start = Clock::now();
    auto out = sup.run({child({"orphan", file("orphans"), "forever"}), child({"sleep_ms", "300", "exit", "2"})});
    EXPECT_LT(ms_between(start, Clock::now()), 10000) << "waited for the grace period";
    ASSERT_TRUE(out.first_failure);
    EXPECT_EQ(read_numbers(file("orphans")).size(), 2u);
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, OrphansIgnoringSigtermAreKilledAtTheDeadline) {
    Supervisor sup(SupervisorOptions{400ms});
    auto start = Clock::now();
    auto out = sup.run({child({"ignore", "TERM", "orphan", file("orphans"), "ignore", "TERM", "exit", "0"}),
                        child({"sleep_ms", "300", "exit", "2"})});
    ASSERT_TRUE(out.first_failure);
    EXPECT_GE(ms_between(start, Clock::now()), 300 + 350) << "the orphans were not given the grace period";
    for (long pid : read_numbers(file("orphans"))) {
        EXPECT_FALSE(alive(static_cast<pid_t>(pid)));
    }
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, LauncherSigtermIsForwardedToEveryGroup) {
    Supervisor sup(SupervisorOptions{30s});
    auto sender = signal_self_when_ready(file("ready"), 2, SIGTERM, 1, 0ms);
    auto out = sup.run({child({"record", file("sig0"), "fork_sleep", "1", file("kids"), "pidfile", file("ready"),
                               "forever"}),
                        child({"record", file("sig1"), "pidfile", file("ready"), "forever"})});
    sender.join();
    ASSERT_TRUE(out.launcher_signal);
    EXPECT_EQ(*out.launcher_signal, SIGTERM);
    EXPECT_FALSE(out.first_failure);
    // Worker 0's child is in its group and inherited its handler: it recorded SIGTERM too.
    EXPECT_EQ(read_numbers(file("sig0")), (std::vector<long>{SIGTERM, SIGTERM}));
    EXPECT_EQ(read_numbers(file("sig1")), std::vector<long>{SIGTERM});
    for (const auto& w : out.workers) {
        EXPECT_TRUE(w.stopped_by_launcher);
        EXPECT_EQ(w.status.shell_status(), 128 + SIGTERM);
    }
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, ASecondSignalKillsAtOnce) {
    Supervisor sup(SupervisorOptions{60s});
    auto start = Clock::now();
    auto sender = signal_self_when_ready(file("ready"), 2, SIGINT, 2, 200ms);
    auto out = sup.run({child({"ignore", "INT", "pidfile", file("ready"), "forever"}),
                        child({"ignore", "INT", "ignore", "TERM", "pidfile", file("ready"), "forever"})});
    sender.join();
    EXPECT_LT(ms_between(start, Clock::now()), 20000) << "waited for the grace period";
    ASSERT_TRUE(out.launcher_signal);
    EXPECT_EQ(*out.launcher_signal, SIGINT);
    for (const auto& w : out.workers) {
        EXPECT_EQ(w.status.signal, SIGKILL);
    }
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, LauncherSignalEscalatesToSigkillAfterTheGracePeriod) {
    Supervisor sup(SupervisorOptions{300ms});
    auto sender = signal_self_when_ready(file("ready"), 1, SIGHUP, 1, 0ms);
    auto start = Clock::now();
    auto out = sup.run({child({"ignore", "HUP", "pidfile", file("ready"), "forever"})});
    sender.join();
    EXPECT_EQ(out.launcher_signal.value_or(0), SIGHUP);
    EXPECT_EQ(out.workers[0].status.signal, SIGKILL);
    EXPECT_GE(ms_between(start, out.workers[0].ended), 250);
}

TEST_F(SupervisorTest, SignalBetweenRunsIsReported) {
    Supervisor sup(SupervisorOptions{30s});
    auto first = sup.run({child({"exit", "1"})});
    EXPECT_TRUE(first.first_failure);
    kill(getpid(), SIGTERM);
    EXPECT_EQ(sup.pending_signal().value_or(0), SIGTERM);
    EXPECT_FALSE(sup.pending_signal());
}

TEST_F(SupervisorTest, SignalBeforeTheStartStopsTheRun) {
    Supervisor sup(SupervisorOptions{30s});
    kill(getpid(), SIGINT);
    auto start = Clock::now();
    auto out = sup.run({child({"forever"}), child({"forever"})});
    EXPECT_EQ(out.launcher_signal.value_or(0), SIGINT);
    EXPECT_LT(ms_between(start, Clock::now()), 5000);
    EXPECT_TRUE(survivors().empty());
}

TEST_F(SupervisorTest, WorkersDieWithTheLauncherEvenBySigkill) {
    // A stand-in launcher: a forked copy of this process running a Supervisor.
    pid_t launcher = fork();
    ASSERT_GE(launcher, 0);
    if (launcher == 0) {
        Supervisor sup(SupervisorOptions{30s});
        sup.run({child({"pidfile", file("ready"), "forever"}), child({"fork_sleep", "1", file("kids"), "pidfile",
                                                                      file("ready"), "forever"})});
        _exit(0);
    }
    ASSERT_TRUE(eventually([&] { return read_numbers(file("ready")).size() >= 2; }));
    auto workers = read_numbers(file("ready"));
    kill(launcher, SIGKILL);
    waitpid(launcher, nullptr, 0);
    EXPECT_TRUE(eventually(
        [&] {
            for (long pid : workers) {
                if (alive(static_cast<pid_t>(pid))) {
                    return false;
                }
            }
            return true;
        },
        1s))
        << "a worker outlived its SIGKILLed launcher by more than 1 s";
}

// --- Output: --redirects and --tee (the file is the worker's fd; tee'd files are followed) ---

namespace {

ProcessSpec shell(const std::string& script, const std::string& marker) {
    ProcessSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c", script};
    spec.envp = {"ACC_TEST_MARKER=" + marker, "PATH=/usr/bin:/bin"};
    return spec;
}

acc::proc::WorkerOutput output(const std::string& dir, acc::launch::StreamMode out, acc::launch::StreamMode err,
                               const std::string& prefix) {
    acc::proc::WorkerOutput o;
    o.streams.out = out;
    o.streams.err = err;
    o.stdout_path = dir + "/stdout.log";
    o.stderr_path = dir + "/stderr.log";
    o.prefix = prefix;
    return o;
}

}  // namespace

TEST_F(SupervisorTest, RedirectedAndTeedStreamsReachTheirFiles) {
    using acc::launch::StreamMode;
    std::filesystem::create_directories(file("0"));
    std::filesystem::create_directories(file("1"));
    Supervisor sup(SupervisorOptions{30s});
    auto out = sup.run({shell("echo out0; echo err0 >&2; printf tail0", m_marker),
                        shell("echo out1; echo err1 >&2", m_marker)},
                       {output(file("0"), StreamMode::file, StreamMode::file, "[default0]:"),
                        output(file("1"), StreamMode::tee, StreamMode::tee, "[default1]:")});
    EXPECT_FALSE(out.first_failure.has_value());
    EXPECT_EQ(slurp(file("0/stdout.log")), "out0\ntail0");
    EXPECT_EQ(slurp(file("0/stderr.log")), "err0\n");
    EXPECT_EQ(slurp(file("1/stdout.log")), "out1\n");  // unprefixed, as torchrun's files
    EXPECT_EQ(slurp(file("1/stderr.log")), "err1\n");
}

TEST_F(SupervisorTest, AnOrphanHoldingATeedFileDoesNotHoldTheRun) {
    // The worker's background child (own session) keeps the log file open; it is
    // killed in the final sweep, and run() returns promptly with all the output.
    using acc::launch::StreamMode;
    Supervisor sup(SupervisorOptions{30s});
    auto start = Clock::now();
    auto out = sup.run({shell("echo before; setsid sleep 100 & echo after", m_marker)},
                       {output(m_dir, StreamMode::tee, StreamMode::inherit, "[default0]:")});
    EXPECT_FALSE(out.first_failure.has_value());
    EXPECT_LT(ms_between(start, Clock::now()), 1500);
    EXPECT_EQ(slurp(file("stdout.log")), "before\nafter\n");
    EXPECT_TRUE(eventually([&] { return survivors().empty(); }));
}

namespace {

// Points this process's stdout (the tee'd console) at `fd` until restored or destroyed.
class StdoutRedirect {
  public:
    explicit StdoutRedirect(int fd) {
        std::fflush(stdout);
        m_saved = dup(STDOUT_FILENO);
        dup2(fd, STDOUT_FILENO);
    }
    ~StdoutRedirect() { restore(); }
    void restore() {
        if (m_saved >= 0) {
            dup2(m_saved, STDOUT_FILENO);
            close(m_saved);
            m_saved = -1;
        }
    }

  private:
    int m_saved = -1;
};

// The console is a file, for the scope's lifetime.
class CapturedStdout {
  public:
    explicit CapturedStdout(const std::string& path)
        : m_fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644)), m_redirect(m_fd) {}
    ~CapturedStdout() { close(m_fd); }

  private:
    int m_fd;
    StdoutRedirect m_redirect;
};

// Holds inotify instances until the kernel refuses more (fs.inotify.max_user_instances).
class InotifyExhausted {
  public:
    InotifyExhausted() {
        for (int i = 0; i < 100000; ++i) {
            int fd = inotify_init1(IN_CLOEXEC);
            if (fd < 0) {
                m_refused = errno == EMFILE;
                break;
            }
            m_fds.push_back(fd);
        }
    }
    ~InotifyExhausted() {
        for (int fd : m_fds) {
            close(fd);
        }
    }
    bool exhausted() const { return m_refused; }

  private:
    std::vector<int> m_fds;
    bool m_refused = false;
};

// A worker prints a line and then waits for `go` before printing the last one: the
// first line must reach the console while the worker is still running.
void expect_teed_output_followed_live(const std::string& dir, const std::string& marker) {
    using acc::launch::StreamMode;
    const std::string console = dir + "/console.txt";
    const std::string go = dir + "/go";
    GroupOutcome out;
    bool seen_live = false;
    {
        CapturedStdout captured(console);
        Supervisor sup(SupervisorOptions{30s});
        std::thread releaser([&] {
            seen_live = eventually([&] { return slurp(console).find("[default0]:first\n") != std::string::npos; }, 5s);
            std::ofstream(go).put('x');
        });
        out = sup.run({shell("echo first; while [ ! -e " + go + " ]; do sleep 0.01; done; printf last", marker)},
                      {output(dir, StreamMode::tee, StreamMode::inherit, "[default0]:")});
        releaser.join();
    }
    EXPECT_FALSE(out.first_failure.has_value());
    EXPECT_TRUE(seen_live) << "the first line reached the console only after the worker ended";
    EXPECT_EQ(slurp(console), "[default0]:first\n[default0]:last\n");
    EXPECT_EQ(slurp(dir + "/stdout.log"), "first\nlast");  // the file holds the bytes as written
}

}  // namespace

TEST_F(SupervisorTest, TeedOutputReachesTheConsoleWhileTheWorkerRuns) {
    expect_teed_output_followed_live(m_dir, m_marker);
}

TEST_F(SupervisorTest, TeedOutputIsFollowedWithoutInotifyToo) {
    InotifyExhausted no_inotify;
    if (!no_inotify.exhausted()) {
        GTEST_SKIP() << "could not exhaust inotify instances here";
    }
    expect_teed_output_followed_live(m_dir, m_marker);
}

namespace {

// Points this process's stdout at a pipe drained by a deliberately slow reader: a
// console that cannot keep up (an ssh session, a terminal being scrolled).
class SlowConsole {
  public:
    explicit SlowConsole(size_t bytes_per_10ms) : m_pipe(make_pipe()), m_redirect(m_pipe[1]) {
        close(m_pipe[1]);  // stdout holds the write end now
        m_reader = std::thread([this, bytes_per_10ms] {
            // Like the launcher's own threads, this one takes no signal: a SIGCHLD
            // delivered here (default: discarded) would never reach the supervisor.
            sigset_t all;
            sigfillset(&all);
            pthread_sigmask(SIG_BLOCK, &all, nullptr);
            std::vector<char> buf(bytes_per_10ms);
            while (true) {
                ssize_t n = read(m_pipe[0], buf.data(), buf.size());
                if (n <= 0) {
                    return;
                }
                m_seen.append(buf.data(), static_cast<size_t>(n));
                std::this_thread::sleep_for(10ms);
            }
        });
    }
    // Restores stdout and returns all the console received.
    std::string finish() {
        m_redirect.restore();  // the pipe's last write end goes: the reader sees EOF
        m_reader.join();
        close(m_pipe[0]);
        return m_seen;
    }

  private:
    static std::array<int, 2> make_pipe() {
        std::array<int, 2> p{-1, -1};
        EXPECT_EQ(pipe(p.data()), 0);
        return p;
    }

    std::array<int, 2> m_pipe;
    StdoutRedirect m_redirect;
    std::thread m_reader;
    std::string m_seen;
};

// 35 MiB of numbered lines, written at once; then `tail` (a shell command).
ProcessSpec fast_writer(const std::string& marker, const std::string& tail) {
    return shell("seq 1 2000000 | sed 's/$/ abcdefghij/'; " + tail, marker);
}

}  // namespace

TEST_F(SupervisorTest, AfterAFailureTheConsoleGetsOnlyTheEndOfWhatItHadNotShown) {
    // A slow console is far behind when the worker fails: the verdict must not wait for
    // it to catch up with megabytes that are in the log file anyway.
    using acc::launch::StreamMode;
    SlowConsole console(64 * 1024);  // ~6 MB/s
    GroupOutcome out;
    Clock::time_point start;
    Clock::time_point returned;
    {
        Supervisor sup(SupervisorOptions{30s});
        start = Clock::now();
        out = sup.run({fast_writer(m_marker, "exit 3")},
                      {output(m_dir, StreamMode::tee, StreamMode::inherit, "[default0]:")});
        returned = Clock::now();
    }
    const std::string seen = console.finish();
    ASSERT_TRUE(out.first_failure.has_value());
    const std::string log = slurp(file("stdout.log"));
    // Every line is in the file.
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2000000);
    EXPECT_EQ(log.substr(log.size() - 19), "2000000 abcdefghij\n");
    EXPECT_LT(ms_between(start, returned), 2500) << "run() waited for the slow console";
    EXPECT_LT(seen.size(), log.size() / 2);
    const auto notice = seen.find("[default0]:accelerate launch: ");
    ASSERT_NE(notice, std::string::npos);
    EXPECT_NE(seen.find("of this output not shown here (the run was stopped); all of it is in " + file("stdout.log"),
                        notice),
              std::string::npos);
    // What follows the notice is the end of the output, whole lines, each prefixed.
    EXPECT_NE(seen.find("\n[default0]:2000000 abcdefghij\n"), std::string::npos);
    const std::string after = seen.substr(seen.find('\n', notice) + 1);
    for (size_t pos = 0; pos < after.size(); pos = after.find('\n', pos) + 1) {
        ASSERT_EQ(after.compare(pos, 11, "[default0]:"), 0) << "a line cut short at " << pos;
    }
}

TEST_F(SupervisorTest, CtrlCWhileTheConsoleCatchesUpEndsTheWait) {
    // The worker succeeded long ago; the console is still far behind. Ctrl-C ends the
    // wait at once and stays pending for the caller (which exits as interrupted).
    using acc::launch::StreamMode;
    GroupOutcome out;
    std::optional<int> pending;
    Clock::time_point interrupted;
    Clock::time_point returned;
    std::string seen;
    {
        std::optional<Supervisor> sup;
        sup.emplace(SupervisorOptions{30s});
        // Threads made from here on block the signals the supervisor reads (as the
        // launcher's would), so the Ctrl-C below queues on its signalfd.
        SlowConsole console(64 * 1024);
        std::thread ctrl_c([&] {
            // Once the worker is reaped (its pid gone, not even a zombie) the run is over
            // and the console is left catching up.
            eventually([&] { return read_numbers(file("done")).size() >= 1; });
            const auto pid = static_cast<pid_t>(read_numbers(file("done"))[0]);
            eventually([&] { return kill(pid, 0) != 0 && errno == ESRCH; });
            interrupted = Clock::now();
            kill(getpid(), SIGINT);
        });
        out = sup->run({fast_writer(m_marker, "echo $$ > " + file("done"))},
                       {output(m_dir, StreamMode::tee, StreamMode::inherit, "[default0]:")});
        returned = Clock::now();
        ctrl_c.join();
        pending = sup->pending_signal();
        sup.reset();  // its own write end of the console's pipe goes with it
        seen = console.finish();
    }
    EXPECT_FALSE(out.first_failure.has_value());
    EXPECT_FALSE(out.launcher_signal.has_value());  // the workers had all ended by themselves
    EXPECT_EQ(pending.value_or(0), SIGINT);
    EXPECT_LT(ms_between(interrupted, returned), 1000);
    EXPECT_NE(seen.find("of this output not shown here (the run was stopped); all of it is in"), std::string::npos);
}
