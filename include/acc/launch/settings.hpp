// The launch settings: argparse's namespace plus where each value came from.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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
    // The value of `name`, or None when it was never set. Names are looked up as
    // views: no string is built for a lookup.
    const Value& get(std::string_view name) const;
    Origin origin(std::string_view name) const;
    bool has(std::string_view name) const { return find(name) != nullptr; }
    bool truthy(std::string_view name) const { return get(name).truthy(); }
    bool is_none(std::string_view name) const { return get(name).is_none(); }
    std::optional<std::int64_t> get_int(std::string_view name) const { return get(name).to_int(); }
    // Python str() of the value.
    std::string str(std::string_view name) const { return get(name).str(); }
    void set(std::string_view name, Value value, Origin origin);
    // Every setting, ordered by name.
    const std::vector<std::pair<std::string, Setting>>& all() const { return m_attrs; }

    // Names of the options typed on the command line (argparse `nondefault`).
    std::set<std::string, std::less<>> nondefault;
    std::string training_script;
    std::vector<std::string> training_script_args;

  private:
    const Setting* find(std::string_view name) const;

    // Sorted by name: one allocation for the ~130 flags, and setting them in name
    // order (as the parser does) only appends.
    std::vector<std::pair<std::string, Setting>> m_attrs;
};

}  // namespace acc::launch
