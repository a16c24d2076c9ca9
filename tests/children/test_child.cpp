// A worker stand-in for the process tests: runs the steps given on its command
// line, in order. Steps:
//   ignore SIG          ignore SIG (inherited by children forked later)
//   record FILE         on SIGINT/SIGTERM/SIGHUP/SIGQUIT append "<signo>\n" to FILE,
//                       then exit 128+signo (unless the signal is ignored later)
//   record_delay MS     the record handler sleeps MS first (children forked
//                       afterwards keep the value the step set)
//   pidfile FILE        append own pid to FILE
//   sleep_ms N          sleep N milliseconds
//   exit N              exit with status N
//   segv                write through a null pointer (no core file)
//   raise SIG           send SIG to itself
//   parent SIG          send SIG to the parent process
//   fork_sleep N FILE   fork N children that append their pid to FILE and sleep forever
//   orphan FILE         double fork: the grandchild starts its own session, forks a
//                       child of its own, both append their pid to FILE and sleep
//                       forever; the middle process exits, so they are orphaned
//   forever             sleep until killed
// SIG is a number or a name without "SIG" (TERM, INT, KILL, HUP, QUIT, SEGV, USR1).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

const char* g_record_file = nullptr;
long g_record_delay_ms = 0;

int parse_signal(const std::string& s) {
    static const struct {
        const char* name;
        int signo;
    } names[] = {{"TERM", SIGTERM}, {"INT", SIGINT}, {"KILL", SIGKILL}, {"HUP", SIGHUP},
                 {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"USR1", SIGUSR1}, {"ABRT", SIGABRT},
                 {"STOP", SIGSTOP}};
    for (const auto& n : names) {
        if (s == n.name) {
            return n.signo;
        }
    }
    return std::atoi(s.c_str());
}

void append_line(const char* file, long value) {
    int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return;
    }
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%ld\n", value);
    ssize_t ignored = write(fd, buf, static_cast<size_t>(n));
    (void)ignored;
    close(fd);
}

int count_lines(const char* file) {
    FILE* f = std::fopen(file, "r");
    if (!f) {
        return 0;
    }
    int lines = 0;
    for (int c; (c = std::fgetc(f)) != EOF;) {
        lines += c == '\n';
    }
    std::fclose(f);
    return lines;
}

void on_signal(int signo) {
    if (g_record_delay_ms > 0) {
        timespec ts{g_record_delay_ms / 1000, (g_record_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, nullptr);
    }
    // open/write/close/_exit are async-signal-safe; snprintf of a long is not
    // strictly, so format by hand.
    char buf[8];
    int n = 0;
    if (signo >= 10) {
        buf[n++] = static_cast<char>('0' + signo / 10);
    }
    buf[n++] = static_cast<char>('0' + signo % 10);
    buf[n++] = '\n';
    int fd = open(g_record_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t ignored = write(fd, buf, static_cast<size_t>(n));
        (void)ignored;
        close(fd);
    }
    _exit(128 + signo);
}

void sleep_ms(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

[[noreturn]] void forever() {
    while (true) {
        pause();
    }
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string step = argv[i];
        auto arg = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "test_child: %s needs an argument\n", step.c_str());
                std::exit(99);
            }
            return argv[++i];
        };
        if (step == "ignore") {
            signal(parse_signal(arg()), SIG_IGN);
        } else if (step == "record") {
            g_record_file = argv[++i];
            for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
                signal(s, on_signal);
            }
        } else if (step == "record_delay") {
            g_record_delay_ms = std::atol(arg().c_str());
        } else if (step == "pidfile") {
            append_line(arg().c_str(), getpid());
        } else if (step == "sleep_ms") {
            sleep_ms(std::atol(arg().c_str()));
        } else if (step == "exit") {
            return std::atoi(arg().c_str());
        } else if (step == "segv") {
            rlimit none{0, 0};
            setrlimit(RLIMIT_CORE, &none);
            volatile int* p = nullptr;
            *p = 1;
        } else if (step == "raise") {
            kill(getpid(), parse_signal(arg()));
            sleep_ms(5000);
        } else if (step == "parent") {
            kill(getppid(), parse_signal(arg()));
        } else if (step == "fork_sleep") {
            int n = std::atoi(arg().c_str());
            std::string file = arg();
            for (int k = 0; k < n; ++k) {
                if (fork() == 0) {
                    append_line(file.c_str(), getpid());
                    forever();
                }
            }
        } else if (step == "orphan") {
            std::string file = arg();
            pid_t middle = fork();
            if (middle == 0) {
                if (fork() == 0) {
                    setsid();
                    if (fork() == 0) {
                        append_line(file.c_str(), getpid());
                        forever();
                    }
                    append_line(file.c_str(), getpid());
                    forever();
                }
                _exit(0);
            }
            waitpid(middle, nullptr, 0);
            // Go on only once both orphans have written their pids.
            for (int tries = 0; tries < 1000 && count_lines(file.c_str()) < 2; ++tries) {
                sleep_ms(10);
            }
        } else if (step == "forever") {
            forever();
        } else {
            std::fprintf(stderr, "test_child: unknown step '%s'\n", step.c_str());
            return 99;
        }
    }
    return 0;
}
