// The launch settings: argparse's namespace plus where each value came from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "acc/util/value.hpp"

namespace acc::launch {

// Where a setting's value came from, shown by --dry_run.
enum class Origin { default_value, flag, config_file, hardware, environment, derived };

const char* origin_name(Origin origin);

struct Setting {
    Value value;
    Origin origin = Origin::default_value;
};

// Upstream keeps everything in one argparse namespace, which config entries
// may extend with new names (fp8_amax_history_length, ...). So do we.
class LaunchSettings {
  public:
    // The value of `name`, or None when it was never set.
    const Value& get(const std::string& name) const;
    Origin origin(const std::string& name) const;
    bool has(const std::string& name) const { return m_attrs.count(name) != 0; }
    bool truthy(const std::string& name) const { return get(name).truthy(); }
    bool is_none(const std::string& name) const { return get(name).is_none(); }
    std::optional<std::int64_t> get_int(const std::string& name) const { return get(name).to_int(); }
    // Python str() of the value.
    std::string str(const std::string& name) const { return get(name).str(); }
    void set(const std::string& name, Value value, Origin origin);
    const std::map<std::string, Setting>& all() const { return m_attrs; }

    // Names of the options typed on the command line (argparse `nondefault`).
    std::set<std::string> nondefault;
    std::string training_script;
    std::vector<std::string> training_script_args;

  private:
    std::map<std::string, Setting> m_attrs;
};

}  // namespace acc::launch
