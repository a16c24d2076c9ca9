#pragma once
// argparse's allow_abbrev, for the commands whose upstream parsers allow it (config,
// config default, config update, env, test; `launch` and the top level do not).

#include <string>
#include <utility>
#include <vector>

namespace acc::cli {

struct ParserOptions {
    std::vector<std::string> options;  // long option strings, in the order argparse registers them
    std::vector<std::string> valued;   // those that take a value
    std::vector<std::pair<std::string, ParserOptions>> subcommands;
};

// `args` with every long option given by a prefix replaced by the one option string
// that starts with it ("--config_f x" -> "--config_file x", "--mixed_=fp16" ->
// "--mixed_precision=fp16"). A prefix shared by several option strings is an error, as
// in argparse, even when they are spellings of one flag: UsageError "ambiguous option:
// --config could match --config_file, --config-file". Anything that matches nothing is
// left for the parser to reject.
std::vector<std::string> expand_abbreviations(const std::vector<std::string>& args, const ParserOptions& parser);

}  // namespace acc::cli
