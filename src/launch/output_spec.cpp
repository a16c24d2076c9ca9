#include "acc/launch/output_spec.hpp"

#include <cctype>
#include <utility>

#include "acc/util/error.hpp"

namespace acc::launch {

namespace {

bool is_std_digit(char c) { return c >= '0' && c <= '3'; }

}  // namespace

std::vector<int> parse_std_spec(const std::string& value, int nproc, const std::string& flag) {
    std::vector<int> out(static_cast<size_t>(nproc > 0 ? nproc : 0), 0);
    auto fail = [&]() {
        return UsageError(flag + ": " + value +
                          " does not match: <^[0123]$> or <^(\\d:[0123],)*(\\d:[0123])$>");
    };
    if (value.size() == 1 && is_std_digit(value[0])) {
        for (auto& v : out) {
            v = value[0] - '0';
        }
        return out;
    }
    // (\d:[0123],)*(\d:[0123]): groups of exactly three characters, comma-separated.
    if (value.empty() || (value.size() + 1) % 4 != 0) {
        throw fail();
    }
    for (size_t i = 0; i < value.size(); i += 4) {
        if (!std::isdigit(static_cast<unsigned char>(value[i])) || value[i + 1] != ':' || !is_std_digit(value[i + 2]) ||
            (i + 3 < value.size() && value[i + 3] != ',')) {
            throw fail();
        }
        int rank = value[i] - '0';
        if (rank < nproc) {
            out[static_cast<size_t>(rank)] = value[i + 2] - '0';
        }
    }
    return out;
}

WorkerStreams worker_streams(int redirects, int tee) {
    WorkerStreams s;
    auto mode = [&](int bit) {
        return (tee & bit) ? StreamMode::tee : (redirects & bit) ? StreamMode::file : StreamMode::inherit;
    };
    s.out = mode(std_out);
    s.err = mode(std_err);
    return s;
}

WorkerStreams join_shared_consoles(WorkerStreams s, size_t workers, bool stdout_joinable, bool stderr_joinable) {
    if (workers < 2) {
        return s;
    }
    if (s.out == StreamMode::inherit && stdout_joinable) {
        s.out = StreamMode::joined;
    }
    if (s.err == StreamMode::inherit && stderr_joinable) {
        s.err = StreamMode::joined;
    }
    return s;
}

std::string line_prefix(const std::optional<std::string>& templ, const std::string& role, int rank,
                        int local_rank) {
    if (!templ) {
        return "[" + role + std::to_string(local_rank) + "]:";
    }
    auto lookup = [&](const std::string& name, std::string& into) {
        if (name == "role_name") {
            into += role;
        } else if (name == "rank") {
            into += std::to_string(rank);
        } else if (name == "local_rank") {
            into += std::to_string(local_rank);
        } else {
            return false;
        }
        return true;
    };
    auto ident_start = [](char c) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)); };
    auto ident_char = [](char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); };
    const std::string& t = *templ;
    std::string out;
    for (size_t i = 0; i < t.size();) {
        if (t[i] != '$' || i + 1 == t.size()) {
            out += t[i++];
            continue;
        }
        if (t[i + 1] == '$') {  // $$ -> $
            out += '$';
            i += 2;
            continue;
        }
        if (t[i + 1] == '{') {
            size_t close = t.find('}', i + 2);
            if (close != std::string::npos && close > i + 2 && ident_start(t[i + 2])) {
                std::string name = t.substr(i + 2, close - i - 2);
                bool ok = true;
                for (char c : name) {
                    ok = ok && ident_char(c);
                }
                if (ok && lookup(name, out)) {
                    i = close + 1;
                    continue;
                }
            }
            out += t[i++];  // safe_substitute: left as is
            continue;
        }
        if (ident_start(t[i + 1])) {
            size_t end = i + 1;
            while (end < t.size() && ident_char(t[end])) {
                ++end;
            }
            if (lookup(t.substr(i + 1, end - i - 1), out)) {
                i = end;
                continue;
            }
        }
        out += t[i++];
    }
    return out;
}

std::string last_lines(const std::string& text, size_t n) {
    size_t end = text.size();
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) {
        --end;
    }
    if (n == 0 || end == 0) {
        return {};
    }
    size_t start = end;
    size_t count = 0;
    while (start > 0) {
        if (text[start - 1] == '\n' && ++count == n) {
            break;
        }
        --start;
    }
    return text.substr(start, end - start);
}

}  // namespace acc::launch
