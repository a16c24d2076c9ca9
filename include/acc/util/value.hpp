// A dynamically typed value, the way Python's argparse namespace and PyYAML hold them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace acc {

// One value of a launch setting or config entry: None, bool, int, float, str,
// list or mapping. Upstream renders these with Python's str(), and so do we.
class Value {
  public:
    enum class Kind { none, boolean, integer, real, string, list, map };

    Value() = default;
    static Value none() { return {}; }
    static Value boolean(bool b);
    static Value integer(std::int64_t i);
    static Value real(double d);
    static Value string(std::string s);
    static Value list(std::vector<Value> items);
    static Value map(std::vector<std::pair<std::string, Value>> entries);

    Kind kind() const { return m_kind; }
    bool is_none() const { return m_kind == Kind::none; }
    bool is_string() const { return m_kind == Kind::string; }
    bool is_map() const { return m_kind == Kind::map; }

    bool as_bool() const { return m_bool; }
    std::int64_t as_int() const { return m_int; }
    double as_real() const { return m_real; }
    const std::string& as_string() const { return m_string; }
    const std::vector<Value>& items() const { return m_items; }
    const std::vector<std::pair<std::string, Value>>& entries() const { return m_entries; }

    // Python truthiness: None, False, 0, 0.0, "" and empty containers are false.
    bool truthy() const;
    // Python str(): None, True, 3, 1.0, text, ['a', 1], {'k': 'v'}.
    std::string str() const;
    // Python repr(): strings quoted, the rest as str().
    std::string repr() const;
    // The value as an int if it is one (bools count, as in Python), else nullopt.
    std::optional<std::int64_t> to_int() const;
    // Map lookup; nullptr when absent or not a map.
    const Value* find(const std::string& key) const;

    friend bool operator==(const Value& a, const Value& b);

  private:
    Kind m_kind = Kind::none;
    bool m_bool = false;
    std::int64_t m_int = 0;
    double m_real = 0.0;
    std::string m_string;
    std::vector<Value> m_items;
    std::vector<std::pair<std::string, Value>> m_entries;
};

}  // namespace acc
