// Facts read from the machine: GPUs (NVML, loaded on demand), cores, ports, PATH.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acc/util/environment.hpp"

namespace acc::proc {

// What NVML reports about the machine's NVIDIA GPUs (all of them, whatever
// CUDA_VISIBLE_DEVICES says); empty when there is no driver.
struct NvidiaInventory {
    int devices = 0;
    std::vector<std::string> names;  // "NVIDIA GeForce RTX 4090", ...
    std::string driver_version;      // "535.104.05"
    std::vector<std::string> uuids;  // "GPU-5a1f...", one per device in NVML's order ("" if unread)
    std::vector<std::string> mig_uuids;  // "MIG-...", the MIG instances of every device
};
NvidiaInventory nvidia_inventory();

// CUDA devices visible to workers: NVML's device count (libnvidia-ml is loaded
// with dlopen, so no CUDA is linked), narrowed by CUDA_VISIBLE_DEVICES as the
// CUDA runtime reads it. 0 when there is no driver.
int cuda_device_count(const Environment& env);
// The same count from an inventory already read (one NVML probe serves every question).
int visible_device_count(NvidiaInventory inv, const Environment& env);

// How many devices CUDA shows for a CUDA_VISIBLE_DEVICES value, given the machine's GPUs
// by UUID in NVML's order, and its MIG instances. The first entry picks the kind of list:
// indices (each read as strtoul does, the list cut at the first index the machine lacks)
// or UUID prefixes, GPU-... or MIG-... (each must start exactly one UUID). A negative,
// unreadable or unknown entry ends the list; a device named twice hides them all. Checked
// against the CUDA runtime on an H100 (tests/gpu). Pure.
int count_visible_devices(const std::string& visible, const std::vector<std::string>& uuids,
                          const std::vector<std::string>& mig_uuids = {});

// Physical cores of the online CPUs, as psutil.cpu_count(logical=False) counts them
// (CPUs that share a core_cpus_list are one core); the online CPU count if sysfs
// says nothing. `cpu_root` is a folder laid out as /sys/devices/system/cpu.
int physical_core_count(const std::string& cpu_root = "/sys/devices/system/cpu");

// A kernel CPU list ("0-3,8,10-11") as CPU numbers; nullopt if malformed. Pure.
std::optional<std::vector<int>> parse_cpu_list(std::string_view text);

// Something accepts TCP connections on 127.0.0.1:`port`.
bool port_in_use(int port);
// A port the kernel reports free right now.
int free_port();

// `name` resolved along PATH (or as given when it contains a slash); nullopt if absent.
std::optional<std::string> find_executable(const std::string& name, const Environment& env);

std::string current_directory();

// stdin is a terminal and the launcher is in its foreground process group, i.e. a
// person started it interactively and a single worker may be handed the terminal.
bool launcher_owns_terminal();

}  // namespace acc::proc
