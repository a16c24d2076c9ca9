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

std::vector<std::string> expand_abbreviations(const std::vector<std::string>& args, const ParserOptions& top) {
    std::vector<std::string> out;
    out.reserve(args.size());
    const ParserOptions* parser = &top;
    bool value_next = false;  // the previous option takes this word as its value
    bool options_done = false;  // after "--" every word is positional
    for (const auto& arg : args) {
        if (value_next || options_done) {
            value_next = false;
            out.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            out.push_back(arg);
            continue;
        }
        if (arg.size() > 2 && arg[0] == '-' && arg[1] == 'h' && contains(parser->options, "--help")) {
            // "-h=0" and "-hx": argparse takes what follows as a value for -h, which takes none.
            throw UsageError(fmt::format("argument -h/--help: ignored explicit argument {}",
                                         Value::string(arg.substr(arg[2] == '=' ? 3 : 2)).repr()));
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
            throw UsageError(fmt::format("argument {}: ignored explicit argument {}",
                                         option == "--help" ? "-h/--help" : option,
                                         Value::string(arg.substr(eq + 1)).repr()));
        }
        value_next = eq == std::string::npos && contains(parser->valued, option);
        out.push_back(eq == std::string::npos ? option : option + arg.substr(eq));
    }
    return out;
}

}  // namespace acc::cli
