// The `accelerate` command line: dispatch to subcommands, map errors to exit statuses.
#pragma once

namespace acc::cli {

// The whole program: the single place where errors become messages and exit statuses.
int run_main(int argc, char** argv);

}  // namespace acc::cli
