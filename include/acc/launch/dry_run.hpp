// The --dry_run report: resolved settings with their sources, and each rank's command.
#pragma once

#include <string>

#include "acc/launch/launch_plan.hpp"
#include "acc/launch/resolve.hpp"
#include "acc/launch/settings.hpp"

namespace acc::launch {

std::string format_dry_run(const LaunchSettings& settings, const Resolution& resolution, const LaunchPlan& plan);

}  // namespace acc::launch
