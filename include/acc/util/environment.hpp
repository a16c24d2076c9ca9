// A snapshot of environment variables, so pure logic never calls getenv.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace acc {

class Environment {
  public:
    Environment() = default;
    explicit Environment(std::map<std::string, std::string> vars) : m_vars(std::move(vars)) {}
    // The launcher's own environment (OS layer; everything else takes an Environment).
    static Environment from_process();

    std::optional<std::string> get(const std::string& key) const;
    // The value when set and non-empty.
    std::optional<std::string> get_nonempty(const std::string& key) const;
    bool contains(const std::string& key) const { return m_vars.count(key) != 0; }
    void set(const std::string& key, std::string value) { m_vars[key] = std::move(value); }
    void erase(const std::string& key) { m_vars.erase(key); }
    const std::map<std::string, std::string>& vars() const { return m_vars; }
    // The keys in the environment block's own order (from_process; Python's os.environ
    // keeps it), then any others in name order.
    std::vector<std::string> keys_in_order() const;
    // "KEY=VALUE" strings for execve.
    std::vector<std::string> to_envp() const;

  private:
    std::map<std::string, std::string> m_vars;
    std::vector<std::string> m_order;  // from_process: the keys as the block lists them
};

}  // namespace acc
