// The table of every `accelerate launch` flag: names, kinds, types, defaults, groups.
// It is static data: reading it at start-up costs no allocation and no construction.
#pragma once

#include <array>
#include <cstdint>
#include <span>
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

// A flag's default as plain data; `to_value()` builds the Value when the parser needs it.
struct FlagDefault {
    enum class Kind { none, boolean, integer, real, string, false_list };
    Kind kind = Kind::none;
    bool boolean = false;
    std::int64_t integer = 0;  // also the length of a false_list
    double real = 0;
    std::string_view text;

    Value to_value() const;
};

struct FlagSpec {
    std::string_view dest;
    // Option strings as upstream declares them (the second may be empty). Each `--x_y`
    // also answers to `--x-y`, as upstream's parser adds: see option_strings().
    std::array<std::string_view, 2> declared;
    FlagKind kind = FlagKind::value;
    ValueType type = ValueType::str;
    std::span<const std::string_view> choices;
    FlagDefault default_value;
    std::string_view group;  // help section; empty for the top-level options
    std::string_view help;
    bool tracked = true;  // counts toward `nondefault` (argparse: not for --vm/--env/-h)
};

// Every flag of `accelerate launch`, in upstream's declaration order, plus ours.
std::span<const FlagSpec> launch_flags();

// The same flags ordered by dest (flags sharing a dest in table order).
std::span<const FlagSpec* const> launch_flags_by_dest();

// The flag owning option string `name` (e.g. "--num-processes"), or nullptr.
const FlagSpec* find_flag(std::string_view name);

// Every option string of `flag`, hyphen aliases included, in argparse's order
// ("--mixed_precision", "--mixed-precision").
std::vector<std::string> option_strings(const FlagSpec& flag);

// "--mixed_precision/--mixed-precision": how argparse names a flag in errors.
std::string flag_display_name(const FlagSpec& flag);

}  // namespace acc::cli
