// What the pure launch logic needs to know about the machine, as injectable probes.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "acc/util/environment.hpp"

namespace acc::launch {

struct HostFacts {
    Environment env;                        // the launcher's environment
    std::function<int()> gpu_count;         // CUDA devices visible (honours CUDA_VISIBLE_DEVICES)
    // False on machines whose GPUs cannot use NCCL's P2P/IB paths (upstream's
    // check_cuda_p2p_ib_support: several RTX 40xx with a driver before 550.40.07).
    std::function<bool()> p2p_ib_supported;
    std::function<int()> physical_cores;    // for upstream's CPU-thread heuristic
    std::function<bool(int)> port_in_use;   // something listens on 127.0.0.1:port
    std::function<int()> free_port;         // an unused TCP port chosen by the kernel
    std::string python;                     // interpreter for workers (PYTHON_EXEC or python3 on PATH)
    std::string cwd;                        // absolute working directory (DeepSpeed's PYTHONPATH)
    // The MPI launcher found on PATH, by name ("mpirun", else "mpiexec"), and what its --version printed.
    std::function<std::optional<std::pair<std::string, std::string>>()> mpi_launcher;
};

}  // namespace acc::launch
