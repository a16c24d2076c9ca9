#include "acc/launch/slurm.hpp"

#include <charconv>

#include <fmt/format.h>

#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::launch {

namespace {

[[noreturn]] void bad_list(std::string_view list, std::string_view why) {
    throw Error(fmt::format("cannot read the SLURM node list '{}': {}; pass --main_process_ip", list, why));
}

std::optional<long> to_long(std::string_view s) {
    long v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

// "01-04,07" -> 01 02 03 04 07 (width of the lower bound kept, as SLURM prints it).
std::vector<std::string> expand_ranges(std::string_view list, std::string_view body) {
    std::vector<std::string> out;
    for (const auto& part : split(body, ',')) {
        auto dash = part.find('-');
        if (dash == std::string::npos) {
            if (part.empty() || !to_long(part)) {
                bad_list(list, fmt::format("'{}' is not a number", part));
            }
            out.push_back(part);
            continue;
        }
        std::string lo_text = part.substr(0, dash);
        std::string hi_text = part.substr(dash + 1);
        auto lo = to_long(lo_text);
        auto hi = to_long(hi_text);
        if (!lo || !hi || *hi < *lo || *hi - *lo > 100000) {
            bad_list(list, fmt::format("'{}' is not a range", part));
        }
        for (long i = *lo; i <= *hi; ++i) {
            std::string n = std::to_string(i);
            if (n.size() < lo_text.size()) {
                n.insert(0, lo_text.size() - n.size(), '0');
            }
            out.push_back(n);
        }
    }
    return out;
}

// One host expression (no top-level comma): text and bracket groups, each group multiplying.
std::vector<std::string> expand_one(std::string_view list, std::string_view expr) {
    std::vector<std::string> hosts{""};
    size_t i = 0;
    while (i < expr.size()) {
        if (expr[i] == '[') {
            auto close = expr.find(']', i);
            if (close == std::string_view::npos) {
                bad_list(list, "unbalanced '['");
            }
            auto values = expand_ranges(list, expr.substr(i + 1, close - i - 1));
            std::vector<std::string> next;
            for (const auto& h : hosts) {
                for (const auto& v : values) {
                    next.push_back(h + v);
                }
            }
            hosts = std::move(next);
            i = close + 1;
        } else if (expr[i] == ']') {
            bad_list(list, "unbalanced ']'");
        } else {
            auto next = expr.find_first_of("[]", i);
            std::string_view text = expr.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
            for (auto& h : hosts) {
                h += text;
            }
            i += text.size();
        }
    }
    return hosts;
}

std::optional<int> env_int(const Environment& env, const char* name) {
    auto v = env.get(name);
    if (!v) {
        return std::nullopt;
    }
    auto n = to_long(*v);
    if (!n || *n < 0 || *n > 1000000) {
        throw Error(fmt::format("environment variable {}={} is not a count SLURM would set; unset it", name, *v));
    }
    return static_cast<int>(*n);
}

}  // namespace

std::vector<std::string> expand_nodelist(std::string_view list) {
    std::vector<std::string> hosts;
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i <= list.size(); ++i) {
        char c = i < list.size() ? list[i] : ',';
        if (c == '[') {
            ++depth;
        } else if (c == ']') {
            --depth;
        } else if ((c == ',' || c == ' ') && depth == 0) {
            std::string_view expr = list.substr(start, i - start);
            if (!expr.empty()) {
                auto more = expand_one(list, expr);
                hosts.insert(hosts.end(), more.begin(), more.end());
            }
            start = i + 1;
        }
        if (depth < 0 || depth > 1) {
            bad_list(list, "unbalanced brackets");
        }
    }
    if (depth != 0) {
        bad_list(list, "unbalanced '['");
    }
    if (hosts.empty()) {
        bad_list(list, "no hosts");
    }
    return hosts;
}

std::optional<SlurmStep> slurm_step(const Environment& env) {
    auto list = env.get_nonempty("SLURM_STEP_NODELIST");
    if (!list) {
        list = env.get_nonempty("SLURM_JOB_NODELIST");
    }
    auto procid = env_int(env, "SLURM_PROCID");
    auto nnodes = env_int(env, "SLURM_NNODES");
    auto nodeid = env_int(env, "SLURM_NODEID");
    if (!env.get_nonempty("SLURM_JOB_NODELIST") || !procid || !nnodes || !nodeid) {
        return std::nullopt;
    }
    SlurmStep step;
    step.proc_id = *procid;
    step.nnodes = std::max(*nnodes, 1);
    step.node_id = *nodeid;
    auto ntasks = env_int(env, "SLURM_STEP_NUM_TASKS");
    if (!ntasks) {
        ntasks = env_int(env, "SLURM_NTASKS");
    }
    step.ntasks = ntasks.value_or(0);
    step.hosts = expand_nodelist(*list);
    return step;
}

void apply_slurm(LaunchSettings& s, const Environment& env) {
    auto step = slurm_step(env);
    if (!step || step->nnodes < 2) {
        return;
    }
    if (step->ntasks > step->nnodes) {
        throw Error(fmt::format(
            "srun started {} launchers on {} nodes; accelerate launch starts the workers itself, so run one launcher "
            "per node: srun --ntasks-per-node=1 accelerate launch ...",
            step->ntasks, step->nnodes));
    }
    if (step->node_id >= step->nnodes) {
        throw Error(fmt::format("SLURM_NODEID={} is out of range for SLURM_NNODES={}", step->node_id, step->nnodes));
    }
    if (s.is_none("num_machines")) {
        s.set("num_machines", Value::integer(step->nnodes), Origin::environment);
    }
    if (s.is_none("machine_rank")) {
        s.set("machine_rank", Value::integer(step->node_id), Origin::environment);
    }
    if (s.is_none("main_process_ip")) {
        s.set("main_process_ip", Value::string(step->hosts.front()), Origin::environment);
    }
}

}  // namespace acc::launch
