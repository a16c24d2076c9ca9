#include "acc/cli/abbreviations.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"
#include "acc/util/value.hpp"

namespace acc::cli {

namespace {

bool contains(const std::vector<std::string>& list, const std::string& s) {
    return std::find(list.begin(), list.end(), s) != list.end();
}

}  // namespace

std::string argparse_flag_name(const std::string& option) {
    if (option == "--help" || option == "-h") {
        return "-h/--help";
    }
    if (!option.starts_with("--")) {
        return option;
    }
    std::string underscored = option;
    std::replace(underscored.begin() + 2, underscored.end(), '-', '_');
    std::string dashed = option;
    std::replace(dashed.begin() + 2, dashed.end(), '_', '-');
    return underscored == dashed ? underscored : underscored + "/" + dashed;
}

bool is_negative_number(const std::string& word) {
    return word.size() > 1 && word[0] == '-' && parse_python_float(word.substr(1)).has_value() &&
           word.find_first_not_of("-0123456789.") == std::string::npos;
}

bool is_help_cluster(const std::string& arg) {
    if (arg.size() < 2 || arg[0] != '-' || arg[1] != 'h') {
        return false;
    }
    // argparse reads what follows "-h" (after one '=') as more one-letter flags: "-hh" and
    // "-h=h" are help; at the first letter that is no flag (-h is the only one here), what
    // is left is a value given to the flag before it, which takes none.
    size_t i = 2;
    if (i < arg.size() && arg[i] == '=') {
        ++i;
        if (i == arg.size()) {
            throw UsageError("argument -h/--help: ignored explicit argument ''");
        }
    }
    for (; i < arg.size(); ++i) {
        if (arg[i] != 'h') {
            throw UsageError(fmt::format("argument -h/--help: ignored explicit argument {}",
                                         Value::string(arg.substr(i)).repr()));
        }
    }
    return true;
}

std::vector<std::string> expand_abbreviations(const std::vector<std::string>& args, const ParserOptions& top) {
    std::vector<std::string> out;
    out.reserve(args.size());
    const ParserOptions* parser = &top;
    std::string value_of;  // the option before, which takes this word as its value
    bool options_done = false;  // after "--" every word is positional
    for (const auto& arg : args) {
        if (!value_of.empty()) {
            // argparse gives an option no word that looks like an option itself (one that
            // starts with '-' and is no negative number; with a space, only a known option).
            const bool option_like = arg.size() > 1 && arg[0] == '-' && !is_negative_number(arg) &&
                                     (arg.find(' ') == std::string::npos ||
                                      contains(parser->options, arg.substr(0, arg.find('='))));
            if (option_like) {
                throw UsageError(fmt::format("argument {}: expected one argument", argparse_flag_name(value_of)));
            }
            value_of.clear();
            out.push_back(arg);
            continue;
        }
        if (options_done) {
            out.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            out.push_back(arg);
            continue;
        }
        if (contains(parser->options, "--help") && is_help_cluster(arg)) {
            out.emplace_back("-h");
            continue;
        }
        if (arg.rfind("--", 0) != 0) {
            // The first positional word picks a subcommand; later words belong to its parser.
            if (!arg.empty() && arg[0] != '-') {
                for (const auto& [name, sub] : parser->subcommands) {
                    if (name == arg) {
                        parser = &sub;
                        break;
                    }
                }
            }
            out.push_back(arg);
            continue;
        }
        const size_t eq = arg.find('=');
        const std::string typed = arg.substr(0, eq);
        std::string option = typed;
        if (!contains(parser->options, typed)) {
            std::vector<std::string> matches;
            for (const auto& o : parser->options) {
                if (o.rfind(typed, 0) == 0) {
                    matches.push_back(o);
                }
            }
            if (matches.size() > 1) {
                throw UsageError(fmt::format("ambiguous option: {} could match {}", arg, join(matches, ", ")));
            }
            if (matches.size() == 1) {
                option = matches.front();
            }
        }
        if (eq != std::string::npos && contains(parser->options, option) && !contains(parser->valued, option)) {
            throw UsageError(fmt::format("argument {}: ignored explicit argument {}", argparse_flag_name(option),
                                         Value::string(arg.substr(eq + 1)).repr()));
        }
        if (eq == std::string::npos && contains(parser->valued, option)) {
            value_of = option;
        }
        out.push_back(eq == std::string::npos ? option : option + arg.substr(eq));
    }
    return out;
}

}  // namespace acc::cli
