#include "acc/util/environment.hpp"

#include <set>
#include <string_view>

extern char** environ;

namespace acc {

Environment Environment::from_process() {
    std::map<std::string, std::string> vars;
    std::vector<std::string> order;
    for (char** e = environ; e && *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos && vars.emplace(entry.substr(0, eq), entry.substr(eq + 1)).second) {
            order.push_back(entry.substr(0, eq));
        }
    }
    Environment env(std::move(vars));
    env.m_order = std::move(order);
    return env;
}

std::vector<std::string> Environment::keys_in_order() const {
    std::vector<std::string> keys;
    keys.reserve(m_vars.size());
    std::set<std::string_view> listed;
    for (const auto& k : m_order) {
        if (m_vars.count(k) != 0 && listed.insert(k).second) {
            keys.push_back(k);
        }
    }
    for (const auto& [k, v] : m_vars) {
        if (listed.count(k) == 0) {
            keys.push_back(k);
        }
    }
    return keys;
}

std::optional<std::string> Environment::get(const std::string& key) const {
    auto it = m_vars.find(key);
    if (it == m_vars.end()) {
        return std::nullopt;
    }
    return it->second;
}

std::optional<std::string> Environment::get_nonempty(const std::string& key) const {
    auto v = get(key);
    if (v && v->empty()) {
        return std::nullopt;
    }
    return v;
}

std::vector<std::string> Environment::to_envp() const {
    std::vector<std::string> out;
    out.reserve(m_vars.size());
    for (const auto& [k, v] : m_vars) {
        out.push_back(k + "=" + v);
    }
    return out;
}

}  // namespace acc
