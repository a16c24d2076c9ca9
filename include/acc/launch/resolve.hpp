// Validation and merging of flags, config file and defaults (upstream's _validate_launch_command).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "acc/config/config_file.hpp"
#include "acc/launch/host_facts.hpp"
#include "acc/launch/settings.hpp"

namespace acc::launch {

struct Resolution {
    std::optional<config::ConfigFile> config;
    std::string distributed_type;       // from the config, "" without one
    bool mixed_precision_from_config = false;
    // Lines of upstream's "values were not passed" warning, in upstream's order.
    std::vector<std::string> default_warnings;
};

// The config file to read, if any: --config_file, else the default file when it
// exists and --cpu is not given (upstream's rule). `default_exists` is a probe.
std::optional<std::string> config_path_to_load(const LaunchSettings& settings, const Environment& env,
                                               bool default_exists);

// Checks that need only the command line. Throws Error with upstream's text.
void check_flag_conflicts(const LaunchSettings& settings);

// Merge `config` (if any) into `settings` and fill defaults, exactly as
// upstream does. Throws Error / ConfigError with one-line messages.
Resolution resolve_settings(LaunchSettings& settings, std::optional<config::ConfigFile> config,
                            const HostFacts& facts);

// Upstream's warning block for `lines` (empty string when there are none).
std::string format_default_warning(const std::vector<std::string>& lines);

}  // namespace acc::launch
