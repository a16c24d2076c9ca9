// One launcher's link to the others of a multi-machine job, through machine 0's
// agent store: the static rendezvous (role_info / assigned_ranks, as torchrun's
// agents), the settings check, failure propagation and the exit barrier.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "acc/launch/rendezvous.hpp"
#include "acc/proc/store_client.hpp"

namespace acc::proc {

// Preflight: `host` (main_process_ip) resolves to an address; else Error in one line.
void check_resolves(const std::string& host);

struct MachineLinkOptions {
    std::string host;  // where machine 0's store listens, as this machine reaches it
    int port = 0;
    int machine_rank = 0;
    int num_machines = 1;
    int local_world_size = 1;
    std::string run_id = "none";
    launch::MachineSettings settings;
    std::chrono::milliseconds timeout{300000};  // for joining and for the rendezvous
};

class MachineLink {
  public:
    // Join machine 0's store (retrying until the timeout) and publish this machine's
    // role_info and settings; from here on, failures of the others are watched.
    // Throws Error naming machine 0 when it cannot be reached.
    explicit MachineLink(MachineLinkOptions options);
    ~MachineLink();
    MachineLink(const MachineLink&) = delete;
    MachineLink& operator=(const MachineLink&) = delete;

    // Machine 0 waits for every role_info, checks the settings, assigns the ranks;
    // every machine then reads its own. Throws Error naming the missing machines
    // (timeout), the disagreeing ones, or the machine that stopped the job.
    launch::AssignedRanks rendezvous();

    // Readable once another machine reported a failure, or machine 0's store went away.
    int stop_fd() const { return m_event_fd; }
    // After stop_fd() fired: why, in one line ("stopped because machine 1 rank 3 failed (...)").
    std::string stop_reason();
    // The failure came from this machine itself (its own report).
    bool stopped_by_self();

    // Tell the other machines this one failed (first call only; best effort).
    void report_failure(const launch::FailureRecord& failure);
    // Machine 0 after reporting a failure: keep the store up until every machine
    // that joined has read the report, at most `wait`.
    void linger(std::chrono::milliseconds wait);

    // After this machine's workers all succeeded: torch's exit barrier, so machine 0
    // keeps the store up while the others still run. Returns a note for the user when
    // it ended other than by every machine arriving (nullopt otherwise). `interrupted`
    // is asked every 200 ms (a signal to the launcher ends the wait).
    std::optional<std::string> exit_barrier(std::chrono::milliseconds timeout,
                                            const std::function<bool()>& interrupted);

  private:
    // Wait for `keys` on the request connection, watching for a stop at the same time.
    // True: all present. False: the deadline passed or `interrupted` said so.
    // Throws Error(stop reason) when the job was stopped meanwhile.
    bool wait_keys(const std::vector<std::string>& keys, Deadline deadline,
                   const std::function<bool()>& interrupted = {});
    std::vector<int> missing_machines();
    void watch();  // the watcher thread
    bool stop_fired();
    [[noreturn]] void fail_rendezvous(const std::string& message);

    MachineLinkOptions m_opt;
    launch::RendezvousKeys m_keys;
    Deadline m_deadline;
    std::optional<StoreClient> m_client;
    std::optional<StoreClient> m_watch_client;
    int m_event_fd = -1;
    std::thread m_watcher;
    std::mutex m_mutex;
    std::optional<launch::FailureRecord> m_failure;  // what the watcher read
    bool m_lost = false;                             // machine 0's store went away
    std::atomic<bool> m_closing{false};
    bool m_reported = false;
};

}  // namespace acc::proc
