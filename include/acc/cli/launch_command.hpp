// `accelerate launch`: parse, merge config, plan, run, report.
#pragma once

#include <string>
#include <vector>

namespace acc::cli {

// Runs the launch subcommand on the words after `launch`; returns the exit status.
// Throws acc::Error subclasses for problems found before any worker starts.
int run_launch(const std::vector<std::string>& args);

}  // namespace acc::cli
