// From resolved settings to the exact workers to start: argv and environment per rank.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "acc/launch/host_facts.hpp"
#include "acc/launch/resolve.hpp"
#include "acc/launch/settings.hpp"

namespace acc::launch {

enum class LauncherKind {
    simple,     // one process, upstream's simple_launcher
    multi_cpu,  // N CPU workers with torchrun's environment (our extension)
    torchrun,   // multi-GPU / FSDP / Megatron-LM / single-machine DeepSpeed: torchrun's workers
    mpirun,     // simple launcher wrapped in mpirun (--mpirun_hostfile)
    deepspeed,  // multi-machine DeepSpeed through the `deepspeed` CLI
};

const char* launcher_name(LauncherKind kind);

struct WorkerSpec {
    int local_rank = 0;
    int rank = 0;
    std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no slash
    // Variables this worker gets on top of the launcher's environment
    // (TORCHELASTIC_ERROR_FILE is added per attempt by the runner).
    std::map<std::string, std::string> env;
};

struct LaunchPlan {
    LauncherKind kind = LauncherKind::simple;
    std::vector<WorkerSpec> workers;
    // Variables removed from the launcher's environment for every worker.
    std::vector<std::string> unset_env;
    int nproc_per_node = 1;
    int num_machines = 1;
    int machine_rank = 0;
    int max_restarts = 0;
    bool torchrun_env = false;     // workers get TORCHELASTIC_* (error files, restart count)
    std::string run_id = "none";
    std::vector<std::string> notes;  // things the user should know (port switched, ...)
    std::string agent_warning;       // what torchrun's agent would print to stderr first, verbatim
    // Extra files to write before starting (DeepSpeed's .deepspeed_env): path -> content.
    std::map<std::string, std::string> files;
};

// upstream's check_cuda_p2p_ib_support from the GPU names and driver version: false
// when there is more than one GPU, one is an RTX 40xx, and the driver is older than
// 550.40.07. Pure.
bool cuda_p2p_ib_supported(const std::vector<std::string>& gpu_names, const std::string& driver_version);

// True when the launcher itself was started by an MPI launcher.
bool running_under_mpi(const Environment& env);

// Build the plan. Pure apart from the probes in `facts` (GPU count, port checks).
// Throws Error / UsageError for settings that cannot be launched.
LaunchPlan plan_launch(const LaunchSettings& settings, const Resolution& resolution, const HostFacts& facts);

}  // namespace acc::launch
