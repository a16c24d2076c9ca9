#pragma once
// torchrun's macro substitution in worker arguments (torchrun-contract section 1.3).

#include <string>
#include <string_view>
#include <vector>

namespace acc::launch {

// Python's string.Template(arg).safe_substitute(local_rank=N): "$local_rank" and
// "${local_rank}" become N, "$$" becomes "$", anything else after a '$' is kept as is.
std::string substitute_local_rank(std::string_view arg, int local_rank);

// A worker's argv as torchrun runs it: the entry point (argv[0], the interpreter or the
// --no_python program) untouched, every later argument substituted.
std::vector<std::string> substitute_local_rank(const std::vector<std::string>& argv, int local_rank);

}  // namespace acc::launch
