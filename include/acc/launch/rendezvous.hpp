// The static rendezvous between the launchers of a multi-machine job, as torchrun's
// agents do it (torchrun-contract 3.1): key names, the role_info / assigned_ranks
// values, rank assignment, and our own additions (settings check, failure record).
// Pure: the store traffic itself lives in proc/machine_link.*.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "acc/launch/launch_plan.hpp"
#include "acc/launch/settings.hpp"

namespace acc::launch {

// Wire keys. Every agent key lives under PrefixStore(run_id): "/<run_id>/<key>".
struct RendezvousKeys {
    std::string run_id = "none";

    std::string role_info(int group_rank) const;       // torchelastic/role_info/<r>
    std::string assigned_ranks(int group_rank) const;  // torchelastic/assigned_ranks/<r>
    std::string exit_count() const;                    // torchelastic/agent/terminal_state/num_members
    std::string exit_last() const;                     // torchelastic/agent/terminal_state/last_member
    std::string settings(int group_rank) const;        // accelerate/settings/<r> (ours)
    std::string failed() const;                        // accelerate/failed (ours)
    std::string failure_seen() const;                  // accelerate/failure_seen (ours: a counter)
    std::string claim(int group_rank) const;           // accelerate/claim/<r> (ours: launchers using rank r)
    std::string alive(int group_rank) const;           // accelerate/alive/<r> (ours: ADDed on machine r's link)
    std::string exited(int group_rank) const;          // accelerate/exited/<r> (ours: r reached the exit barrier)
    // True for the launchers' own keys (kept when worker keys are cleared between attempts).
    bool is_agent_key(std::string_view key) const;
};

// Machine 0's store saw a connection close that had ADDed `added`: when that was machine
// r's link (its alive key) and r had neither reached the exit barrier nor recorded a
// failure, the failure record (key, value) that stops the job: r's launcher went away
// (SIGKILL, a crash, its host or the network) and its ranks with it.
std::optional<std::pair<std::string, std::string>> lost_machine_failure(
    const RendezvousKeys& keys, const std::vector<std::string>& added,
    const std::function<bool(const std::string&)>& has_key);

struct RoleInfo {
    std::string role = "default";
    int rank = 0;  // group (machine) rank
    int local_world_size = 0;
};

// {"role": "default", "rank": 0, "local_world_size": 2} (Python json.dumps spacing).
std::string encode_role_info(const RoleInfo& info);
std::optional<RoleInfo> parse_role_info(std::string_view text);

struct AssignedRanks {
    int base_global_rank = 0;
    int global_world_size = 0;
    int base_role_rank = 0;
    int role_world_size = 0;
    bool operator==(const AssignedRanks&) const = default;
};

// [base_global_rank, global_world_size, base_role_rank, role_world_size], e.g. "[2, 4, 2, 4]".
std::string encode_assigned_ranks(const AssignedRanks& ranks);
std::optional<AssignedRanks> parse_assigned_ranks(std::string_view text);

// torch's SimpleElasticAgent._assign_worker_ranks: machines in group-rank order, each
// starting where the previous ones end (local world sizes may differ per machine).
std::vector<AssignedRanks> assign_ranks(const std::vector<RoleInfo>& infos);

// Give this machine's workers the ranks the rendezvous assigned (RANK, ROLE_RANK,
// WORLD_SIZE, ROLE_WORLD_SIZE, and WorkerSpec::rank).
void apply_assigned_ranks(LaunchPlan& plan, const AssignedRanks& ranks);

// What every machine must agree on (compared on machine 0).
struct MachineSettings {
    int machine_rank = 0;
    std::string num_processes;
    std::string num_machines;
    std::string mixed_precision;
    std::string script;  // the file name, without its folder
};

MachineSettings machine_settings(const LaunchSettings& settings, int machine_rank);
std::string encode_machine_settings(const MachineSettings& m);
std::optional<MachineSettings> parse_machine_settings(std::string_view text, int machine_rank);
// One line naming the machines that disagree with machine 0, or nullopt when all agree.
std::optional<std::string> compare_machine_settings(const std::vector<MachineSettings>& machines);

// Why a machine stopped the job, as stored under RendezvousKeys::failed():
// "<machine_rank> <rank> <how>" for a worker, "<machine_rank> - <reason>" otherwise;
// "<machine_rank> + <note>" is no failure: machine 0 is leaving after its own success
// (the others keep running, without failure propagation from then on).
struct FailureRecord {
    int machine_rank = 0;
    std::optional<int> rank;
    std::string what;
    bool benign = false;
};
std::string encode_failure(const FailureRecord& f);
FailureRecord parse_failure(std::string_view text);
// "machine 1 rank 3 failed (exited with status 3)" / "machine 0: <reason>".
std::string describe_failure(const FailureRecord& f);

// "machine 2" / "machines 1, 3".
std::string machine_list(const std::vector<int>& ranks);

}  // namespace acc::launch
