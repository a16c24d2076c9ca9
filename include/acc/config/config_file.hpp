// Reading accelerate config files (YAML or JSON) with PyYAML's meaning of scalars.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "acc/util/environment.hpp"
#include "acc/util/value.hpp"

namespace acc::config {

// A loaded, validated config: every ClusterConfig field, file values over defaults.
struct ConfigFile {
    std::string path;
    // Mapping in ClusterConfig field order, each field present.
    Value fields;
    // The keys the file itself contained (after legacy-key processing).
    std::vector<std::string> keys_in_file;

    const Value& field(const std::string& name) const;
    bool is_local_machine() const;
};

// The ClusterConfig field names, in declaration order (upstream's iteration order).
const std::vector<std::string>& cluster_config_fields();
// Every ClusterConfig field with its dataclass default, in declaration order.
Value cluster_config_defaults();

// Parse YAML text into a Value as PyYAML's safe_load would (quoted 'no' is a
// string, plain no is False). `origin` names the source in errors; an origin
// ending in ".json" is read with JSON's scalar rules instead (as json.load:
// 1e-05 is a float, NaN/Infinity accepted).
// Throws ConfigError "origin:line:column: ..." on malformed YAML.
Value parse_yaml(std::string_view text, std::string_view origin);

// Apply upstream's process_config to a loaded mapping and fill defaults.
// Throws ConfigError for a missing distributed_type or unknown keys.
ConfigFile make_config(Value data, const std::string& path);

// Read `path` (".json" as JSON, anything else as YAML) and validate it.
// Throws ConfigError when it is missing, unreadable or invalid.
ConfigFile load_config_file(const std::string& path);

// $HF_HOME/accelerate, else $XDG_CACHE_HOME/huggingface/accelerate, else ~/.cache/huggingface/accelerate.
std::string config_folder(const Environment& env);
std::string default_config_path(const Environment& env);

}  // namespace acc::config
