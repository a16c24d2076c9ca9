// Running inside a SLURM allocation: the machine layout from SLURM_* variables. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acc/launch/settings.hpp"
#include "acc/util/environment.hpp"

namespace acc::launch {

// Expand a SLURM host list: "gpu[01-04,07]" -> gpu01 gpu02 gpu03 gpu04 gpu07,
// "a,b", "n[1-3]-ib", "r[1-2]n[1-2]" (each bracket multiplies), zero padding kept.
// Throws Error on a malformed list.
std::vector<std::string> expand_nodelist(std::string_view list);

struct SlurmStep {
    int nnodes = 1;    // SLURM_NNODES (the step's nodes under srun)
    int node_id = 0;   // SLURM_NODEID
    int proc_id = 0;   // SLURM_PROCID
    int ntasks = 0;    // SLURM_STEP_NUM_TASKS or SLURM_NTASKS (0: unknown)
    std::vector<std::string> hosts;  // SLURM_STEP_NODELIST, else SLURM_JOB_NODELIST, expanded
};

// The step this launcher runs in, when SLURM_PROCID, SLURM_NNODES, SLURM_NODEID and
// SLURM_JOB_NODELIST are all set; nullopt otherwise. Throws Error on values that do not parse.
std::optional<SlurmStep> slurm_step(const Environment& env);

// Fill num_machines, machine_rank and main_process_ip from SLURM (Origin::environment)
// where the command line left them unset, for steps on more than one node; so a flag
// wins, then SLURM, then the config file. Throws Error when srun started more than one
// launcher per node.
void apply_slurm(LaunchSettings& settings, const Environment& env);

}  // namespace acc::launch
