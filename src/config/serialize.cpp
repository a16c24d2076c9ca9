#include "acc/config/serialize.hpp"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include <fmt/format.h>

namespace acc::config {

namespace {

// ---- UTF-8 <-> code points (invalid bytes are taken as Latin-1, as surrogateescape would show them) ----

std::u32string decode_utf8(const std::string& s) {
    std::u32string out;
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; ok && k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc >> 6) == 2;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (!ok) {
            out += static_cast<char32_t>(c);
            ++i;
            continue;
        }
        out += cp;
        i += len;
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string encode_utf8(std::u32string_view s) {
    std::string out;
    for (char32_t c : s) {
        append_utf8(out, c);
    }
    return out;
}

bool is_break(char32_t c) { return c == U'\n' || c == 0x85 || c == 0x2028 || c == 0x2029; }
bool is_blank_or_end(char32_t c) { return c == 0 || c == U' ' || c == U'\t' || c == U'\r' || is_break(c); }

// ---- PyYAML Emitter.analyze_scalar ----

struct Analysis {
    bool empty = false;
    bool multiline = false;
    bool allow_block_plain = true;
    bool allow_single_quoted = true;
};

Analysis analyze(const std::u32string& s) {
    Analysis a;
    if (s.empty()) {
        a.empty = true;
        return a;
    }
    bool block_indicators = false, line_breaks = false, special = false;
    bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false;
    bool break_space = false, space_break = false;
    if (s.starts_with(U"---") || s.starts_with(U"...")) {
        block_indicators = true;
    }
    bool preceded_by_ws = true;
    bool followed_by_ws = s.size() == 1 || is_blank_or_end(s[1]);
    bool previous_space = false, previous_break = false;
    const std::u32string first_indicators = U"#,[]{}&*!|>'\"%@`";
    for (size_t i = 0; i < s.size(); ++i) {
        char32_t ch = s[i];
        if (i == 0) {
            if (first_indicators.find(ch) != std::u32string::npos) {
                block_indicators = true;
            }
            if ((ch == U'?' || ch == U':') && followed_by_ws) {
                block_indicators = true;
            }
            if (ch == U'-' && followed_by_ws) {
                block_indicators = true;
            }
        } else {
            if (ch == U':' && followed_by_ws) {
                block_indicators = true;
            }
            if (ch == U'#' && preceded_by_ws) {
                block_indicators = true;
            }
        }
        if (is_break(ch)) {
            line_breaks = true;
        }
        if (!(ch == U'\n' || (ch >= 0x20 && ch <= 0x7E))) {
            special = true;  // allow_unicode=False: every non-ASCII character is special
        }
        if (ch == U' ') {
            if (i == 0) {
                leading_space = true;
            }
            if (i == s.size() - 1) {
                trailing_space = true;
            }
            if (previous_break) {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if (is_break(ch)) {
            if (i == 0) {
                leading_break = true;
            }
            if (i == s.size() - 1) {
                trailing_break = true;
            }
            if (previous_space) {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = previous_break = false;
        }
        preceded_by_ws = is_blank_or_end(ch);
        followed_by_ws = i + 2 >= s.size() || is_blank_or_end(s[i + 2]);
    }
    a.multiline = line_breaks;
    if (leading_space || leading_break || trailing_space || trailing_break) {
        a.allow_block_plain = false;
    }
    if (break_space) {
        a.allow_block_plain = a.allow_single_quoted = false;
    }
    if (space_break || special) {
        a.allow_block_plain = a.allow_single_quoted = false;
    }
    if (line_breaks || block_indicators) {
        a.allow_block_plain = false;
    }
    return a;
}

// ---- a port of the parts of PyYAML's Emitter that safe_dump of a config uses ----

class Emitter {
  public:
    std::string out;

    void node(const Value& v, int indent, bool mapping_context) {
        switch (v.kind()) {
        case Value::Kind::map:
            if (v.entries().empty()) {
                indicator("{", true);
                indicator("}", false);
            } else {
                block_mapping(v, indent);
            }
            return;
        case Value::Kind::list:
            if (v.items().empty()) {
                indicator("[", true);
                indicator("]", false);
            } else {
                block_sequence(v, indent, mapping_context && !m_indention);
            }
            return;
        default: scalar(v, indent + 2, false); return;
        }
    }

    void document(const Value& v) {
        node(v, -2, false);  // the root collection gets indent 0
        write_indent(0);
    }

  private:
    int m_column = 0;
    bool m_whitespace = true;
    bool m_indention = true;
    static constexpr int k_best_width = 80;

    void block_mapping(const Value& v, int parent_indent) {
        int indent = parent_indent + 2;
        std::vector<std::pair<std::string, const Value*>> sorted;
        for (const auto& [k, val] : v.entries()) {
            sorted.emplace_back(k, &val);
        }
        std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [k, val] : sorted) {
            write_indent(indent);
            scalar(Value::string(k), indent + 2, true);
            indicator(":", false);
            node(*val, indent, true);
        }
    }

    void block_sequence(const Value& v, int parent_indent, bool indentless) {
        int indent = indentless ? std::max(parent_indent, 0) : parent_indent + 2;
        for (const Value& item : v.items()) {
            write_indent(indent);
            indicator("-", true, false, true);
            node(item, indent, false);
        }
    }

    void write_line_break() {
        out += '\n';
        m_whitespace = true;
        m_indention = true;
        m_column = 0;
    }

    void write_indent(int indent) {
        if (!m_indention || m_column > indent || (m_column == indent && !m_whitespace)) {
            write_line_break();
        }
        if (m_column < indent) {
            m_whitespace = true;
            out.append(static_cast<size_t>(indent - m_column), ' ');
            m_column = indent;
        }
    }

    void indicator(std::string_view ind, bool need_whitespace, bool whitespace = false, bool indention = false) {
        std::string data = (m_whitespace || !need_whitespace) ? std::string(ind) : " " + std::string(ind);
        m_whitespace = whitespace;
        m_indention = m_indention && indention;
        m_column += static_cast<int>(data.size());
        out += data;
    }

    void write(std::u32string_view data) {
        m_column += static_cast<int>(data.size());
        out += encode_utf8(data);
    }

    void scalar(const Value& v, int indent, bool simple_key) {
        std::string text;
        bool is_string = v.kind() == Value::Kind::string;
        switch (v.kind()) {
        case Value::Kind::none: text = "null"; break;
        case Value::Kind::boolean: text = v.as_bool() ? "true" : "false"; break;
        case Value::Kind::integer: text = std::to_string(v.as_int()); break;
        case Value::Kind::real: {
            double d = v.as_real();
            if (std::isnan(d)) {
                text = ".nan";
            } else if (std::isinf(d)) {
                text = d > 0 ? ".inf" : "-.inf";
            } else {
                text = Value::real(d).str();
                std::transform(text.begin(), text.end(), text.begin(), [](char c) { return c == 'E' ? 'e' : c; });
                if (text.find('.') == std::string::npos && text.find('e') != std::string::npos) {
                    text.replace(text.find('e'), 1, ".0e");
                }
            }
            break;
        }
        default: text = v.str(); is_string = true; break;
        }
        std::u32string u = decode_utf8(text);
        bool split = !simple_key;
        if (!is_string) {
            write_plain(u, indent, split);
            return;
        }
        Analysis a = analyze(u);
        if (plain_scalar_is_string(text) && !(simple_key && (a.empty || a.multiline)) && a.allow_block_plain) {
            write_plain(u, indent, split);
        } else if (a.allow_single_quoted && !(simple_key && a.multiline)) {
            write_single_quoted(u, indent, split);
        } else {
            write_double_quoted(u, indent, split);
        }
    }

    void write_plain(const std::u32string& text, int indent, bool split) {
        if (text.empty()) {
            return;
        }
        if (!m_whitespace) {
            write(U" ");
        }
        m_whitespace = false;
        m_indention = false;
        bool spaces = false;
        size_t start = 0;
        for (size_t end = 0; end <= text.size(); ++end) {
            char32_t ch = end < text.size() ? text[end] : 0;
            bool at_end = end == text.size();
            if (spaces) {
                if (ch != U' ' || at_end) {
                    if (start + 1 == end && m_column > k_best_width && split) {
                        write_indent(indent);
                        m_whitespace = false;
                        m_indention = false;
                    } else {
                        write(std::u32string_view(text).substr(start, end - start));
                    }
                    start = end;
                }
            } else if (at_end || ch == U' ' || is_break(ch)) {
                write(std::u32string_view(text).substr(start, end - start));
                start = end;
            }
            if (!at_end) {
                spaces = ch == U' ';
            }
        }
    }

    void write_single_quoted(const std::u32string& text, int indent, bool split) {
        indicator("'", true);
        bool spaces = false, breaks = false;
        size_t start = 0;
        for (size_t end = 0; end <= text.size(); ++end) {
            bool at_end = end == text.size();
            char32_t ch = at_end ? 0 : text[end];
            if (spaces) {
                if (at_end || ch != U' ') {
                    if (start + 1 == end && m_column > k_best_width && split && start != 0 && end != text.size()) {
                        write_indent(indent);
                    } else {
                        write(std::u32string_view(text).substr(start, end - start));
                    }
                    start = end;
                }
            } else if (breaks) {
                if (at_end || !is_break(ch)) {
                    if (text[start] == U'\n') {
                        write_line_break();
                    }
                    for (size_t k = start; k < end; ++k) {
                        if (text[k] == U'\n') {
                            write_line_break();
                        } else {
                            out += encode_utf8(std::u32string(1, text[k]));
                            m_whitespace = m_indention = true;
                            m_column = 0;
                        }
                    }
                    write_indent(indent);
                    start = end;
                }
            } else if (at_end || ch == U' ' || is_break(ch) || ch == U'\'') {
                if (start < end) {
                    write(std::u32string_view(text).substr(start, end - start));
                    start = end;
                }
            }
            if (ch == U'\'' && !at_end) {
                write(U"''");
                start = end + 1;
            }
            if (!at_end) {
                spaces = ch == U' ';
                breaks = is_break(ch);
            }
        }
        indicator("'", false);
    }

    void write_double_quoted(const std::u32string& text, int indent, bool split) {
        indicator("\"", true);
        size_t start = 0;
        for (size_t end = 0; end <= text.size(); ++end) {
            bool at_end = end == text.size();
            char32_t ch = at_end ? 0 : text[end];
            if (at_end || ch == U'"' || ch == U'\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 || ch == 0xFEFF ||
                !(ch >= 0x20 && ch <= 0x7E)) {
                if (start < end) {
                    write(std::u32string_view(text).substr(start, end - start));
                    start = end;
                }
                if (!at_end) {
                    std::string data;
                    switch (ch) {
                    case 0: data = "\\0"; break;
                    case 0x07: data = "\\a"; break;
                    case 0x08: data = "\\b"; break;
                    case 0x09: data = "\\t"; break;
                    case 0x0A: data = "\\n"; break;
                    case 0x0B: data = "\\v"; break;
                    case 0x0C: data = "\\f"; break;
                    case 0x0D: data = "\\r"; break;
                    case 0x1B: data = "\\e"; break;
                    case U'"': data = "\\\""; break;
                    case U'\\': data = "\\\\"; break;
                    case 0x85: data = "\\N"; break;
                    case 0xA0: data = "\\_"; break;
                    case 0x2028: data = "\\L"; break;
                    case 0x2029: data = "\\P"; break;
                    default:
                        data = ch <= 0xFF     ? fmt::format("\\x{:02X}", static_cast<unsigned>(ch))
                               : ch <= 0xFFFF ? fmt::format("\\u{:04X}", static_cast<unsigned>(ch))
                                              : fmt::format("\\U{:08X}", static_cast<unsigned>(ch));
                    }
                    m_column += static_cast<int>(data.size());
                    out += data;
                    start = end + 1;
                }
            }
            if (end > 0 && end + 1 < text.size() && (ch == U' ' || start >= end) &&
                m_column + static_cast<int>(end - start) > k_best_width && split) {
                std::u32string data = text.substr(start, end > start ? end - start : 0) + U"\\";
                if (start < end) {
                    start = end;
                }
                write(data);
                write_indent(indent);
                m_whitespace = false;
                m_indention = false;
                if (text[start] == U' ') {
                    write(U"\\");
                }
            }
        }
        indicator("\"", false);
    }
};

// ---- JSON ----

void json_string(std::string& out, const std::string& s) {
    out += '"';
    for (char32_t c : decode_utf8(s)) {
        switch (c) {
        case U'"': out += "\\\""; break;
        case U'\\': out += "\\\\"; break;
        case U'\n': out += "\\n"; break;
        case U'\r': out += "\\r"; break;
        case U'\t': out += "\\t"; break;
        case U'\b': out += "\\b"; break;
        case U'\f': out += "\\f"; break;
        default:
            if (c < 0x20 || (c > 0x7E && c != 0x7F)) {
                if (c >= 0x10000) {
                    char32_t v = c - 0x10000;
                    out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                }
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

void json_value(std::string& out, const Value& v, int indent) {
    std::string pad(static_cast<size_t>(indent + 2), ' ');
    std::string close_pad(static_cast<size_t>(indent), ' ');
    switch (v.kind()) {
    case Value::Kind::none: out += "null"; return;
    case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::integer: out += std::to_string(v.as_int()); return;
    case Value::Kind::real: {
        double d = v.as_real();
        out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : Value::real(d).str();
        return;
    }
    case Value::Kind::string: json_string(out, v.as_string()); return;
    case Value::Kind::list: {
        if (v.items().empty()) {
            out += "[]";
            return;
        }
        out += "[";
        for (size_t i = 0; i < v.items().size(); ++i) {
            out += (i ? ",\n" : "\n") + pad;
            json_value(out, v.items()[i], indent + 2);
        }
        out += "\n" + close_pad + "]";
        return;
    }
    case Value::Kind::map: {
        if (v.entries().empty()) {
            out += "{}";
            return;
        }
        std::vector<const std::pair<std::string, Value>*> sorted;
        for (const auto& e : v.entries()) {
            sorted.push_back(&e);
        }
        std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
        out += "{";
        for (size_t i = 0; i < sorted.size(); ++i) {
            out += (i ? ",\n" : "\n") + pad;
            json_string(out, sorted[i]->first);
            out += ": ";
            json_value(out, sorted[i]->second, indent + 2);
        }
        out += "\n" + close_pad + "}";
        return;
    }
    }
}

Value convert_for_dict(const Value& v) {
    if (!v.is_map()) {
        return v;
    }
    if (v.entries().empty()) {
        return Value::none();
    }
    std::vector<std::pair<std::string, Value>> entries;
    for (const auto& [k, val] : v.entries()) {
        entries.emplace_back(k, convert_for_dict(val));
    }
    return Value::map(std::move(entries));
}

}  // namespace

Value to_dict(const Value& fields) {
    std::vector<std::pair<std::string, Value>> entries;
    for (const auto& [k, v] : fields.entries()) {
        Value converted = convert_for_dict(v);
        if (!converted.is_none()) {
            entries.emplace_back(k, std::move(converted));
        }
    }
    return Value::map(std::move(entries));
}

bool plain_scalar_is_string(const std::string& s) {
    // PyYAML's implicit resolvers (YAML 1.1): bool, float, int, merge, null, timestamp, value.
    static const std::set<std::string> words = {"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE",
                                                "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
                                                "~", "null", "Null", "NULL", "", "<<", "="};
    static const std::regex float_re(
        R"([-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))");
    static const std::regex int_re(
        R"([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)");
    static const std::regex timestamp_re(
        R"([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)");
    if (words.count(s)) {
        return false;
    }
    return !(std::regex_match(s, float_re) || std::regex_match(s, int_re) || std::regex_match(s, timestamp_re));
}

std::string to_yaml(const Value& data) {
    Emitter e;
    e.document(data);
    return e.out;
}

std::string to_json(const Value& data) {
    std::string out;
    json_value(out, data, 0);
    return out + "\n";
}

bool is_json_path(const std::string& path) { return path.ends_with(".json"); }

std::string python_path_str(const std::string& path) {
    if (path.empty()) {
        return ".";
    }
    std::string prefix;
    size_t i = 0;
    if (path.starts_with("//") && !path.starts_with("///")) {
        prefix = "//";
    } else if (path[0] == '/') {
        prefix = "/";
    }
    std::vector<std::string> parts;
    std::string cur;
    for (i = 0; i <= path.size(); ++i) {
        if (i == path.size() || path[i] == '/') {
            if (!cur.empty() && cur != ".") {
                parts.push_back(cur);
            }
            cur.clear();
        } else {
            cur += path[i];
        }
    }
    std::string out = prefix;
    for (size_t k = 0; k < parts.size(); ++k) {
        out += (k ? "/" : "") + parts[k];
    }
    return out.empty() ? "." : out;
}

}  // namespace acc::config
