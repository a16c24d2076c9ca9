/* The least a supervising launcher can do: start the worker as a child (vfork +
 * execve), wait for it, exit with its status. launch_bench.py builds it with the
 * system C compiler and times it as the floor for any launcher that, like ours
 * (and torchrun), stays the worker's parent. Not part of the product. */
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 2) {
        return 2;
    }
    pid_t pid = vfork();
    if (pid == 0) {
        execve(argv[1], argv + 1, environ);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
