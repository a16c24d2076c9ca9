#include "acc/util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace acc {

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        size_t pos = text.find(sep, start);
        parts.emplace_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) {
            return parts;
        }
        start = pos + 1;
    }
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i) {
            out += sep;
        }
        out += parts[i];
    }
    return out;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string to_upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
}

std::string trim(std::string_view text) {
    size_t b = 0;
    size_t e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) {
        ++b;
    }
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) {
        --e;
    }
    return std::string(text.substr(b, e - b));
}

namespace {

struct PythonIntText {
    bool negative = false;
    std::string digits;
};

// The syntax of Python's int(text), any size: surrounding blanks, an optional sign, digits
// with single underscores between them.
std::optional<PythonIntText> python_int_text(std::string_view raw) {
    std::string text = trim(raw);
    size_t i = 0;
    PythonIntText out;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        out.negative = text[i] == '-';
        ++i;
    }
    if (i >= text.size()) {
        return std::nullopt;
    }
    bool last_underscore = true;  // an underscore may not lead
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (c == '_') {
            if (last_underscore) {
                return std::nullopt;
            }
            last_underscore = true;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            out.digits += c;
            last_underscore = false;
        } else {
            return std::nullopt;
        }
    }
    if (last_underscore) {
        return std::nullopt;
    }
    return out;
}

}  // namespace

std::optional<std::int64_t> parse_python_int(std::string_view raw) {
    const auto text = python_int_text(raw);
    if (!text) {
        return std::nullopt;
    }
    // Any int64 (Python's int() has no bound; beyond 64 bits is_python_int_too_large says so).
    const std::string& digits = text->digits;
    std::uint64_t magnitude = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
    const std::uint64_t limit = text->negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    if (error != std::errc() || end != digits.data() + digits.size() || magnitude > limit) {
        return std::nullopt;
    }
    return text->negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
}

bool is_python_int_too_large(std::string_view raw) { return python_int_text(raw) && !parse_python_int(raw); }

std::optional<double> parse_python_float(std::string_view raw) {
    std::string text = trim(raw);
    if (text.empty()) {
        return std::nullopt;
    }
    std::string lowered = to_lower(text);
    std::string body = (lowered[0] == '+' || lowered[0] == '-') ? lowered.substr(1) : lowered;
    if (body == "inf" || body == "infinity" || body == "nan") {
        return std::strtod(lowered.c_str(), nullptr);
    }
    // As Python's float(): an underscore only between two digits (1_000.5, not 1__0 or 1_e5).
    std::string cleaned;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '_') {
            cleaned += text[i];
        } else if (i == 0 || i + 1 == text.size() || !std::isdigit(static_cast<unsigned char>(text[i - 1])) ||
                   !std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
            return std::nullopt;
        }
    }
    for (char c : cleaned) {
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
            return std::nullopt;
        }
    }
    char* end = nullptr;
    double v = std::strtod(cleaned.c_str(), &end);
    if (end == cleaned.c_str() || *end != '\0') {
        return std::nullopt;
    }
    return v;
}

std::optional<int> str_to_bool(std::string_view text) {
    std::string v = to_lower(text);
    if (v == "y" || v == "yes" || v == "t" || v == "true" || v == "on" || v == "1") {
        return 1;
    }
    if (v == "n" || v == "no" || v == "f" || v == "false" || v == "off" || v == "0") {
        return 0;
    }
    return std::nullopt;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: two swapped letters (`tset`, `--debgu`) are one edit.
    std::vector<size_t> before(b.size() + 1);
    std::vector<size_t> prev(b.size() + 1);
    std::vector<size_t> cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                cur[j] = std::min(cur[j], before[j - 2] + 1);
            }
        }
        std::swap(before, prev);
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    // Judged on the name without its dashes: a third of it may be wrong, and never all of
    // it (`-x` is not a misspelt `-h`).
    const size_t name_length = word.size() - std::min(word.find_first_not_of('-'), word.size());
    size_t best_distance = std::min(std::max<size_t>(1, name_length / 3), name_length == 0 ? 0 : name_length - 1) + 1;
    for (const auto& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

std::string shell_quote(std::string_view arg) {
    if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_-+=:,./") ==
                            std::string_view::npos) {
        return std::string(arg);
    }
    std::string out = "'";
    for (char c : arg) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::string format_bytes(std::uint64_t bytes) {
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes) / 1024;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", value, units[unit]);
    return buf;
}

namespace {

// The value of the four hex digits at `at`, or -1.
int hex4(std::string_view text, size_t at) {
    if (at + 4 > text.size()) {
        return -1;
    }
    int value = 0;
    for (size_t k = at; k < at + 4; ++k) {
        const char c = text[k];
        const int digit = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (digit < 0) {
            return -1;
        }
        value = value * 16 + digit;
    }
    return value;
}

}  // namespace

std::string json_surrogates_for_yaml(std::string_view json) {
    std::string out;
    out.reserve(json.size());
    size_t i = 0;
    while (i < json.size()) {
        if (json[i] != '\\' || i + 1 >= json.size()) {
            out += json[i++];
            continue;
        }
        const int unit = json[i + 1] == 'u' ? hex4(json, i + 2) : -1;
        if (unit < 0xD800 || unit > 0xDFFF) {
            out.append(json.substr(i, 2));  // any other escape, "\\" included, as it is
            i += 2;
            continue;
        }
        if (unit <= 0xDBFF && i + 12 <= json.size() && json[i + 6] == '\\' && json[i + 7] == 'u') {
            const int low = hex4(json, i + 8);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                const long code = 0x10000 + (static_cast<long>(unit - 0xD800) << 10) + (low - 0xDC00);
                char buf[16];
                std::snprintf(buf, sizeof buf, "\\U%08lX", code);
                out += buf;
                i += 12;
                continue;
            }
        }
        out += "\\uFFFD";
        i += 6;
    }
    return out;
}

}  // namespace acc
