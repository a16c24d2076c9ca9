#include "acc/cli/launch_help.hpp"

#include <fmt/format.h>

#include "acc/cli/launch_flags.hpp"
#include "acc/util/strings.hpp"

namespace acc::cli {

namespace {

// Upstream lists only the underscore spelling of each flag.
std::string listed_names(const FlagSpec& f) {
    std::vector<std::string> names;
    for (std::string_view n : f.declared) {
        if (!n.empty()) {
            names.push_back(f.kind == FlagKind::value || f.kind == FlagKind::append
                                ? fmt::format("{} {}", n, to_upper(std::string(f.dest)))
                                : std::string(n));
        }
    }
    return join(names, ", ");
}

std::string wrap(std::string_view text, size_t indent, size_t width) {
    std::string out;
    size_t col = indent;
    for (const auto& word : split(text, ' ')) {
        if (col + word.size() + 1 > width && col > indent) {
            out += "\n" + std::string(indent, ' ');
            col = indent;
        } else if (col > indent) {
            out += ' ';
            ++col;
        }
        out += word;
        col += word.size();
    }
    return out;
}

void add_entry(std::string& out, const std::string& names, std::string_view help) {
    const size_t column = 32;
    std::string line = "  " + names;
    if (line.size() + 2 > column) {
        out += line + "\n" + std::string(column, ' ');
    } else {
        out += line + std::string(column - line.size(), ' ');
    }
    out += wrap(help, column, 100) + "\n";
}

}  // namespace

std::string launch_usage_line() {
    return "usage: accelerate launch [-h] [--config_file CONFIG_FILE] [--cpu] [--multi_gpu] [--num_processes N] "
           "[options...] training_script ...";
}

std::string launch_help() {
    std::string out = launch_usage_line() + "\n\n";
    out += "Launch a python script in a distributed scenario. Arguments can be passed in with either hyphens "
           "(`--num-processes=2`) or underscores (`--num_processes=2`)\n\n";
    out += "positional arguments:\n";
    add_entry(out, "training_script",
              "The full path to the script to be launched in parallel, followed by all the arguments for the "
              "training script.");
    add_entry(out, "training_script_args", "Arguments of the training script.");
    out += "\noptions:\n";
    for (const auto& f : launch_flags()) {
        if (f.group.empty()) {
            add_entry(out, listed_names(f), f.help);
        }
    }
    std::string group;
    for (const auto& f : launch_flags()) {
        if (f.group.empty()) {
            continue;
        }
        if (f.group != group) {
            group = std::string(f.group);
            out += "\n" + group + ":\n";
        }
        add_entry(out, listed_names(f), f.help);
    }
    return out;
}

}  // namespace acc::cli
