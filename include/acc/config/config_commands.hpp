// The pure parts of `accelerate config default`, `config update` and `env`.
#pragma once

#include <optional>
#include <string>

#include "acc/config/config_file.hpp"
#include "acc/util/value.hpp"

namespace acc::config {

// What `accelerate config default` writes (upstream's write_basic_config):
// `cuda_devices` GPUs -> MULTI_GPU / NO with num_processes = count; none -> CPU.
Value default_config_dict(const std::string& mixed_precision, int cuda_devices);

// The dict upstream's load_config_from_file(path).to_dict() gives: the loaded
// config as its dataclass (ClusterConfig or SageMakerConfig) holds it, enums
// checked, nulls and empty dicts dropped, in field order.
// Throws ConfigError for an invalid compute_environment / distributed_type or a
// SageMaker file without its required keys.
Value loaded_config_dict(const ConfigFile& config);

// The text of a config file at `path`: JSON for ".json", YAML otherwise.
std::string render_config(const Value& dict, const std::string& path);

// Everything `accelerate env` reports, gathered by the OS layer.
struct EnvFacts {
    std::string accelerate_version;  // the Python package's, empty when not importable
    std::string native_version;      // this program's
    std::string platform;            // platform.platform()
    std::string accelerate_location; // `which accelerate`, else this program
    std::string python_executable;   // empty when no Python was found
    std::string python_version;      // empty when unknown
    std::string numpy_version;       // empty when not importable
    std::string torch_version;       // empty when not importable
    std::string torch_accelerator;   // "CUDA", ..., "N/A"
    double ram_bytes = 0;
    std::string device_type_line;    // e.g. "GPU type: NVIDIA H100 80GB HBM3", or empty
    int cuda_devices = 0;            // NVML's count
    bool config_passed = false;      // --config_file given
    std::optional<Value> config;     // the to_dict() of the config, nullopt when not found
};

// upstream's env_command output (each line ends with "\n").
std::string env_report(const EnvFacts& facts);

}  // namespace acc::config
