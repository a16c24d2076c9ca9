// The table of every `accelerate launch` flag: names, kinds, types, defaults, groups.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "acc/util/value.hpp"

namespace acc::cli {

enum class FlagKind { store_true, store_false, value, append, help };

// How a flag's text is converted, mirroring the argparse `type=` upstream uses.
enum class ValueType {
    str,
    integer,      // int()
    real,         // float()
    py_bool,      // bool(str): any non-empty text is True (upstream quirk)
    str_to_bool,  // accelerate's str_to_bool -> 0/1
    bool_tuple,   // comma list of str_to_bool values (fp8_override_linear_precision)
};

struct FlagSpec {
    std::string dest;
    std::vector<std::string> names;  // option strings; hyphen aliases included
    FlagKind kind = FlagKind::value;
    ValueType type = ValueType::str;
    std::vector<std::string> choices;
    Value default_value;
    std::string_view group;  // help section; empty for the top-level options (static text)
    std::string_view help;   // static text: no copy at start-up
    bool tracked = true;  // counts toward `nondefault` (argparse: not for --vm/--env/-h)
};

// Every flag of `accelerate launch`, in upstream's declaration order, plus ours.
const std::vector<FlagSpec>& launch_flags();

// The flag owning option string `name` (e.g. "--num-processes"), or nullptr.
const FlagSpec* find_flag(const std::string& name);

// "--mixed_precision/--mixed-precision": how argparse names a flag in errors.
std::string flag_display_name(const FlagSpec& flag);

}  // namespace acc::cli
