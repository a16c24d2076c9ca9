#include "acc/launch/arg_macros.hpp"

namespace acc::launch {

namespace {

// string.Template's idpattern, (?a:[_a-z][_a-z0-9]*) under re.IGNORECASE.
bool id_start(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool id_char(char c) { return id_start(c) || (c >= '0' && c <= '9'); }

}  // namespace

std::string substitute_local_rank(std::string_view arg, int local_rank) {
    const std::string value = std::to_string(local_rank);
    std::string out;
    out.reserve(arg.size());
    size_t i = 0;
    while (i < arg.size()) {
        const size_t dollar = arg.find('$', i);
        if (dollar == std::string_view::npos) {
            out.append(arg.substr(i));
            break;
        }
        out.append(arg.substr(i, dollar - i));
        size_t next = dollar + 1;
        if (next < arg.size() && arg[next] == '$') {  // "$$": an escaped dollar
            out += '$';
            i = next + 1;
            continue;
        }
        const bool braced = next < arg.size() && arg[next] == '{';
        size_t name_start = braced ? next + 1 : next;
        size_t name_end = name_start;
        if (name_end < arg.size() && id_start(arg[name_end])) {
            while (name_end < arg.size() && id_char(arg[name_end])) {
                ++name_end;
            }
        }
        const bool named = name_end > name_start && (!braced || (name_end < arg.size() && arg[name_end] == '}'));
        if (!named) {  // an invalid placeholder: the '$' stays and scanning goes on after it
            out += '$';
            i = next;
            continue;
        }
        const size_t end = braced ? name_end + 1 : name_end;
        // Names are matched greedily and compared case-sensitively: "$local_rank0" and
        // "$LOCAL_RANK" are other names, and stay as they are.
        if (arg.substr(name_start, name_end - name_start) == "local_rank") {
            out += value;
        } else {
            out.append(arg.substr(dollar, end - dollar));
        }
        i = end;
    }
    return out;
}

std::vector<std::string> substitute_local_rank(const std::vector<std::string>& argv, int local_rank) {
    std::vector<std::string> out;
    out.reserve(argv.size());
    for (size_t i = 0; i < argv.size(); ++i) {
        out.push_back(i == 0 ? argv[i] : substitute_local_rank(argv[i], local_rank));
    }
    return out;
}

}  // namespace acc::launch
