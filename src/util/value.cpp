#include "acc/util/value.hpp"

#include <cmath>

#include <fmt/format.h>

namespace acc {

Value Value::boolean(bool b) {
    Value v;
    v.m_kind = Kind::boolean;
    v.m_bool = b;
    return v;
}

Value Value::integer(std::int64_t i) {
    Value v;
    v.m_kind = Kind::integer;
    v.m_int = i;
    return v;
}

Value Value::real(double d) {
    Value v;
    v.m_kind = Kind::real;
    v.m_real = d;
    return v;
}

Value Value::string(std::string s) {
    Value v;
    v.m_kind = Kind::string;
    v.m_string = std::move(s);
    return v;
}

Value Value::list(std::vector<Value> items) {
    Value v;
    v.m_kind = Kind::list;
    v.m_items = std::move(items);
    return v;
}

Value Value::map(std::vector<std::pair<std::string, Value>> entries) {
    Value v;
    v.m_kind = Kind::map;
    v.m_entries = std::move(entries);
    return v;
}

bool Value::truthy() const {
    switch (m_kind) {
    case Kind::none: return false;
    case Kind::boolean: return m_bool;
    case Kind::integer: return m_int != 0;
    case Kind::real: return m_real != 0.0;
    case Kind::string: return !m_string.empty();
    case Kind::list: return !m_items.empty();
    case Kind::map: return !m_entries.empty();
    }
    return false;
}

static std::string python_float(double d) {
    if (std::isnan(d)) {
        return "nan";
    }
    if (std::isinf(d)) {
        return d > 0 ? "inf" : "-inf";
    }
    // fmt's shortest round-trip form equals Python's repr except that
    // Python always shows a fractional part or an exponent.
    std::string s = fmt::format("{}", d);
    if (s.find_first_of(".e") == std::string::npos) {
        s += ".0";
    }
    return s;
}

std::string Value::str() const {
    switch (m_kind) {
    case Kind::none: return "None";
    case Kind::boolean: return m_bool ? "True" : "False";
    case Kind::integer: return std::to_string(m_int);
    case Kind::real: return python_float(m_real);
    case Kind::string: return m_string;
    case Kind::list: {
        std::string out = "[";
        for (size_t i = 0; i < m_items.size(); ++i) {
            out += (i ? ", " : "") + m_items[i].repr();
        }
        return out + "]";
    }
    case Kind::map: {
        std::string out = "{";
        for (size_t i = 0; i < m_entries.size(); ++i) {
            out += (i ? ", " : "") + Value::string(m_entries[i].first).repr() + ": " +
                   m_entries[i].second.repr();
        }
        return out + "}";
    }
    }
    return "";
}

std::string Value::repr() const {
    if (m_kind != Kind::string) {
        return str();
    }
    const char quote = m_string.find('\'') != std::string::npos && m_string.find('"') == std::string::npos ? '"' : '\'';
    std::string out(1, quote);
    for (char c : m_string) {
        if (c == '\\' || c == quote) {
            out += '\\';
        }
        // Control characters escaped as Python writes them: a value's newline must not
        // split a one-line message.
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
            out += c;
        }
    }
    return out + quote;
}

std::optional<std::int64_t> Value::to_int() const {
    if (m_kind == Kind::integer) {
        return m_int;
    }
    if (m_kind == Kind::boolean) {
        return m_bool ? 1 : 0;
    }
    return std::nullopt;
}

const Value* Value::find(const std::string& key) const {
    for (const auto& [k, v] : m_entries) {
        if (k == key) {
            return &v;
        }
    }
    return nullptr;
}

bool operator==(const Value& a, const Value& b) {
    if (a.m_kind != b.m_kind) {
        return false;
    }
    switch (a.m_kind) {
    case Value::Kind::none: return true;
    case Value::Kind::boolean: return a.m_bool == b.m_bool;
    case Value::Kind::integer: return a.m_int == b.m_int;
    case Value::Kind::real: return a.m_real == b.m_real;
    case Value::Kind::string: return a.m_string == b.m_string;
    case Value::Kind::list: return a.m_items == b.m_items;
    case Value::Kind::map: return a.m_entries == b.m_entries;
    }
    return false;
}

}  // namespace acc
