#include "acc/util/environment.hpp"

extern char** environ;

namespace acc {

Environment Environment::from_process() {
    std::map<std::string, std::string> vars;
    for (char** e = environ; e && *e; ++e) {
        std::string entry(*e);
        auto eq = entry.find('=');
        if (eq != std::string::npos) {
            vars.emplace(entry.substr(0, eq), entry.substr(eq + 1));
        }
    }
    return Environment(std::move(vars));
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
