// The `accelerate launch -h` text, generated from the flag table.
#pragma once

#include <string>

namespace acc::cli {

std::string launch_help();
std::string launch_usage_line();

}  // namespace acc::cli
