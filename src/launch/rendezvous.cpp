#include "acc/launch/rendezvous.hpp"

#include <charconv>
#include <map>

#include <fmt/format.h>

#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::launch {

namespace {

std::string_view trim_view(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<int> to_int(std::string_view s) {
    s = trim_view(s);
    int v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
        return std::nullopt;
    }
    return v;
}

// The value after `"name":` in a flat JSON object (numbers and simple strings only).
std::optional<std::string_view> json_field(std::string_view text, std::string_view name) {
    std::string quoted = fmt::format("\"{}\"", name);
    auto at = text.find(quoted);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    auto colon = text.find(':', at + quoted.size());
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view rest = trim_view(text.substr(colon + 1));
    if (!rest.empty() && rest.front() == '"') {
        auto end = rest.find('"', 1);
        if (end == std::string_view::npos) {
            return std::nullopt;
        }
        return rest.substr(1, end - 1);
    }
    auto end = rest.find_first_of(",}");
    return trim_view(rest.substr(0, end));
}

std::string base_name(const std::string& path) {
    auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string RendezvousKeys::role_info(int r) const { return fmt::format("/{}/torchelastic/role_info/{}", run_id, r); }
std::string RendezvousKeys::assigned_ranks(int r) const {
    return fmt::format("/{}/torchelastic/assigned_ranks/{}", run_id, r);
}
std::string RendezvousKeys::exit_count() const {
    return fmt::format("/{}/torchelastic/agent/terminal_state/num_members", run_id);
}
std::string RendezvousKeys::exit_last() const {
    return fmt::format("/{}/torchelastic/agent/terminal_state/last_member", run_id);
}
std::string RendezvousKeys::settings(int r) const { return fmt::format("/{}/accelerate/settings/{}", run_id, r); }
std::string RendezvousKeys::failed() const { return fmt::format("/{}/accelerate/failed", run_id); }
std::string RendezvousKeys::failure_seen() const { return fmt::format("/{}/accelerate/failure_seen", run_id); }
std::string RendezvousKeys::claim(int r) const { return fmt::format("/{}/accelerate/claim/{}", run_id, r); }
std::string RendezvousKeys::alive(int r) const { return fmt::format("/{}/accelerate/alive/{}", run_id, r); }
std::string RendezvousKeys::exited(int r) const { return fmt::format("/{}/accelerate/exited/{}", run_id, r); }

std::optional<std::pair<std::string, std::string>> lost_machine_failure(
    const RendezvousKeys& keys, const std::vector<std::string>& added,
    const std::function<bool(const std::string&)>& has_key) {
    const std::string prefix = keys.alive(0).substr(0, keys.alive(0).size() - 1);  // ".../alive/"
    for (const auto& key : added) {
        if (key.size() <= prefix.size() || key.compare(0, prefix.size(), prefix) != 0) {
            continue;
        }
        const auto r = parse_python_int(std::string_view(key).substr(prefix.size()));
        if (!r || *r < 0 || *r > (1 << 20) || has_key(keys.failed()) || has_key(keys.exited(static_cast<int>(*r)))) {
            continue;
        }
        const int machine = static_cast<int>(*r);
        return std::make_pair(keys.failed(),
                              encode_failure(FailureRecord{
                                  machine, std::nullopt,
                                  "its launcher went away (killed, or its host or the network failed), and its "
                                  "ranks with it"}));
    }
    return std::nullopt;
}

bool RendezvousKeys::is_agent_key(std::string_view key) const {
    std::string a = fmt::format("/{}/torchelastic/", run_id);
    std::string b = fmt::format("/{}/accelerate/", run_id);
    return key.substr(0, a.size()) == a || key.substr(0, b.size()) == b;
}

std::string encode_role_info(const RoleInfo& info) {
    return fmt::format("{{\"role\": \"{}\", \"rank\": {}, \"local_world_size\": {}}}", info.role, info.rank,
                       info.local_world_size);
}

std::optional<RoleInfo> parse_role_info(std::string_view text) {
    auto role = json_field(text, "role");
    auto rank = json_field(text, "rank");
    auto lws = json_field(text, "local_world_size");
    if (!role || !rank || !lws) {
        return std::nullopt;
    }
    auto r = to_int(*rank);
    auto n = to_int(*lws);
    if (!r || !n || *n < 0) {
        return std::nullopt;
    }
    return RoleInfo{std::string(*role), *r, *n};
}

std::string encode_assigned_ranks(const AssignedRanks& a) {
    return fmt::format("[{}, {}, {}, {}]", a.base_global_rank, a.global_world_size, a.base_role_rank,
                       a.role_world_size);
}

std::optional<AssignedRanks> parse_assigned_ranks(std::string_view text) {
    text = trim_view(text);
    if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
        return std::nullopt;
    }
    auto parts = split(std::string(text.substr(1, text.size() - 2)), ',');
    if (parts.size() != 4) {
        return std::nullopt;
    }
    int v[4];
    for (int i = 0; i < 4; ++i) {
        auto n = to_int(parts[static_cast<size_t>(i)]);
        if (!n || *n < 0) {
            return std::nullopt;
        }
        v[i] = *n;
    }
    return AssignedRanks{v[0], v[1], v[2], v[3]};
}

std::vector<AssignedRanks> assign_ranks(const std::vector<RoleInfo>& infos) {
    std::map<std::string, int> role_sizes;
    int world = 0;
    for (const auto& info : infos) {
        role_sizes[info.role] += info.local_world_size;
        world += info.local_world_size;
    }
    std::vector<AssignedRanks> out;
    std::map<std::string, int> role_ranks;
    int base = 0;
    for (const auto& info : infos) {
        out.push_back(AssignedRanks{base, world, role_ranks[info.role], role_sizes[info.role]});
        base += info.local_world_size;
        role_ranks[info.role] += info.local_world_size;
    }
    return out;
}

void apply_assigned_ranks(LaunchPlan& plan, const AssignedRanks& a) {
    for (auto& w : plan.workers) {
        w.rank = a.base_global_rank + w.local_rank;
        w.env["RANK"] = std::to_string(w.rank);
        w.env["ROLE_RANK"] = std::to_string(a.base_role_rank + w.local_rank);
        w.env["WORLD_SIZE"] = std::to_string(a.global_world_size);
        w.env["ROLE_WORLD_SIZE"] = std::to_string(a.role_world_size);
    }
}

MachineSettings machine_settings(const LaunchSettings& s, int machine_rank) {
    MachineSettings m;
    m.machine_rank = machine_rank;
    m.num_processes = s.str("num_processes");
    m.num_machines = s.str("num_machines");
    m.mixed_precision = to_lower(s.str("mixed_precision"));
    m.script = base_name(s.training_script);
    return m;
}

std::string encode_machine_settings(const MachineSettings& m) {
    return fmt::format("num_processes={}\nnum_machines={}\nmixed_precision={}\nscript={}", m.num_processes,
                       m.num_machines, m.mixed_precision, m.script);
}

std::optional<MachineSettings> parse_machine_settings(std::string_view text, int machine_rank) {
    MachineSettings m;
    m.machine_rank = machine_rank;
    int seen = 0;
    for (const auto& line : split(std::string(text), '\n')) {
        auto eq = line.find('=');
        if (eq == std::string::npos) {
            continue;
        }
        std::string k = line.substr(0, eq);
        std::string v = line.substr(eq + 1);
        if (k == "num_processes") {
            m.num_processes = v;
        } else if (k == "num_machines") {
            m.num_machines = v;
        } else if (k == "mixed_precision") {
            m.mixed_precision = v;
        } else if (k == "script") {
            m.script = v;
        } else {
            continue;
        }
        ++seen;
    }
    if (seen != 4) {
        return std::nullopt;
    }
    return m;
}

std::optional<std::string> compare_machine_settings(const std::vector<MachineSettings>& machines) {
    if (machines.empty()) {
        return std::nullopt;
    }
    const MachineSettings& ref = machines.front();
    std::vector<std::string> diffs;
    auto field = [&](const char* name, std::string MachineSettings::*member) {
        std::vector<std::string> odd;
        for (const auto& m : machines) {
            if (m.*member != ref.*member) {
                odd.push_back(fmt::format("machine {} has {}", m.machine_rank, m.*member));
            }
        }
        if (!odd.empty()) {
            diffs.push_back(fmt::format("{} {} on machine {}, but {}", name, ref.*member, ref.machine_rank,
                                        join(odd, ", ")));
        }
    };
    field("num_processes", &MachineSettings::num_processes);
    field("num_machines", &MachineSettings::num_machines);
    field("mixed_precision", &MachineSettings::mixed_precision);
    field("script", &MachineSettings::script);
    if (diffs.empty()) {
        return std::nullopt;
    }
    return fmt::format("the machines disagree: {}; launch every machine with the same settings", join(diffs, "; "));
}

std::string encode_failure(const FailureRecord& f) {
    return fmt::format("{} {} {}", f.machine_rank,
                       f.benign ? std::string("+") : f.rank ? std::to_string(*f.rank) : std::string("-"), f.what);
}

FailureRecord parse_failure(std::string_view text) {
    FailureRecord f;
    std::string s(trim_view(text));
    auto sp1 = s.find(' ');
    auto m = to_int(std::string_view(s).substr(0, sp1));
    if (!m || sp1 == std::string::npos) {
        f.machine_rank = -1;
        f.what = s;
        return f;
    }
    f.machine_rank = *m;
    auto sp2 = s.find(' ', sp1 + 1);
    std::string rank = s.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
    f.benign = rank == "+";
    if (rank != "-" && !f.benign) {
        f.rank = to_int(rank);
    }
    f.what = sp2 == std::string::npos ? std::string() : s.substr(sp2 + 1);
    return f;
}

std::string describe_failure(const FailureRecord& f) {
    if (f.machine_rank < 0) {
        return f.what;
    }
    if (f.rank) {
        return fmt::format("machine {} rank {} failed ({})", f.machine_rank, *f.rank, f.what);
    }
    return fmt::format("machine {}: {}", f.machine_rank, f.what);
}

std::string machine_list(const std::vector<int>& ranks) {
    std::vector<std::string> words;
    for (int r : ranks) {
        words.push_back(std::to_string(r));
    }
    return fmt::format("machine{} {}", ranks.size() == 1 ? "" : "s", join(words, ", "));
}

}  // namespace acc::launch
