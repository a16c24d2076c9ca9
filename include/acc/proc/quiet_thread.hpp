// The launcher's own helper threads (the agent store, the watch on other machines).
#pragma once

#include <functional>
#include <thread>

namespace acc::proc {

// Runs `body` on a new thread with every signal blocked (signals belong to the
// supervisor's signalfd, never to a helper). A thread the system refuses (it counts
// against `ulimit -u` like a process) is an acc::Error naming `what` and the limit:
// "could not start <what>: Resource temporarily unavailable (a limit on processes: ...)".
std::thread start_quiet_thread(const char* what, std::function<void()> body);

}  // namespace acc::proc
