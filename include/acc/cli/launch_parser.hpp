// Parse `accelerate launch` arguments with upstream's argparse semantics.
#pragma once

#include <string>
#include <vector>

#include "acc/launch/settings.hpp"

namespace acc::cli {

struct ParsedLaunch {
    bool help_requested = false;
    launch::LaunchSettings settings;
};

// Parse the words after `launch`. Flags must precede the script; the script
// and everything after it are kept verbatim. Throws UsageError with argparse's
// wording ("argument --x: invalid int value: 'y'", "unrecognized arguments: ...").
ParsedLaunch parse_launch_args(const std::vector<std::string>& args);

}  // namespace acc::cli
