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

// How argparse names a flag of the config, env and test parsers in its messages: every
// spelling, "--config_file/--config-file"; "-h/--help" for help.
std::string argparse_flag_name(const std::string& option);

// argparse reads "-5" and "-1.5" as values, not options, since no flag looks like a number.
bool is_negative_number(const std::string& word);

// Whether `arg` asks for help as argparse reads a word starting "-h" in a parser whose only
// one-letter flag is -h: "-h", "-hh", "-h=h" do; "-hx", "-h=0", "-hh=0" throw UsageError
// ("argument -h/--help: ignored explicit argument 'x'"); any other word is no help.
bool is_help_cluster(const std::string& arg);

// `args` with every long option given by a prefix replaced by the one option string
// that starts with it ("--config_f x" -> "--config_file x", "--mixed_=fp16" ->
// "--mixed_precision=fp16"). A prefix shared by several option strings is an error, as
// in argparse, even when they are spellings of one flag: UsageError "ambiguous option:
// --config could match --config_file, --config-file". Anything that matches nothing is
// left for the parser to reject.
std::vector<std::string> expand_abbreviations(const std::vector<std::string>& args, const ParserOptions& parser);

}  // namespace acc::cli
