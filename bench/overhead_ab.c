/* The launcher's own start-up cost, with the noise of Python's start-up taken out:
 * each command given starts a worker that does nothing (/bin/true), and the commands
 * are run in turn, round after round, so drift on the machine hits them alike. Prints
 * the median and p10 wall time (vfork until reaped) and the median CPU time (the
 * command and its worker, from wait4) of each. Resolution about 0.01 ms over 2,000
 * rounds, against 0.2 ms for the Python-based launch_bench.py: it is how two builds of
 * the launcher are compared. Not part of the product.
 *
 *   cc -O2 -o /tmp/overhead_ab bench/overhead_ab.c
 *   cc -O2 -o /tmp/min_launcher bench/min_launcher.c
 *   /tmp/overhead_ab 2000 /tmp/min_launcher build/accelerate /tmp/other-build/accelerate
 *
 * A path whose name ends in "min_launcher" is run as `min_launcher /bin/true`; any
 * other as `<path> launch --cpu ... --no_python /bin/true` with every value that would
 * otherwise print the "values were not passed" warning given. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int by_value(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static double ms_between(struct timespec a, struct timespec b) {
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ROUNDS COMMAND...\n", argv[0]);
        return 2;
    }
    const int rounds = atoi(argv[1]);
    const int n = argc - 2;
    if (rounds < 10) {
        fprintf(stderr, "%s: ROUNDS must be at least 10\n", argv[0]);
        return 2;
    }
    double* wall = calloc((size_t)rounds * n, sizeof(double));
    double* cpu = calloc((size_t)rounds * n, sizeof(double));
    if (wall == NULL || cpu == NULL) {
        return 1;
    }
    for (int r = 0; r < rounds; ++r) {
        for (int c = 0; c < n; ++c) {
            const char* path = argv[2 + c];
            const size_t len = strlen(path);
            const int minimal = len >= 12 && strcmp(path + len - 12, "min_launcher") == 0;
            char* launch[] = {(char*)path, "launch", "--cpu", "--num_machines", "1", "--mixed_precision", "no",
                              "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1", "--no_python",
                              "/bin/true", NULL};
            char* bare[] = {(char*)path, "/bin/true", NULL};
            struct timespec start, end;
            clock_gettime(CLOCK_MONOTONIC, &start);
            const pid_t pid = vfork();
            if (pid == 0) {
                const int null = open("/dev/null", O_WRONLY);
                dup2(null, 1);
                dup2(null, 2);
                execv(path, minimal ? bare : launch);
                _exit(127);
            }
            int status = 0;
            struct rusage usage;
            if (pid < 0 || wait4(pid, &status, 0, &usage) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "%s: %s failed (status %d)\n", argv[0], path, status);
                return 1;
            }
            clock_gettime(CLOCK_MONOTONIC, &end);
            wall[c * rounds + r] = ms_between(start, end);
            cpu[c * rounds + r] = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                                  (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
        }
    }
    printf("%-40s %12s %9s %11s\n", "command (worker: /bin/true)", "wall median", "wall p10", "CPU median");
    for (int c = 0; c < n; ++c) {
        qsort(wall + c * rounds, rounds, sizeof(double), by_value);
        qsort(cpu + c * rounds, rounds, sizeof(double), by_value);
        printf("%-40s %9.3f ms %6.3f ms %8.3f ms\n", argv[2 + c], wall[c * rounds + rounds / 2],
               wall[c * rounds + rounds / 10], cpu[c * rounds + rounds / 2]);
    }
    return 0;
}
