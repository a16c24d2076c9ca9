#include "acc/launch/dry_run.hpp"

#include <fmt/format.h>

#include "acc/util/strings.hpp"

namespace acc::launch {

namespace {

// Always shown, so a reader sees the decisions that matter even when defaulted.
const char* const k_key_settings[] = {"cpu",          "multi_gpu",         "use_deepspeed",  "use_fsdp",
                                      "use_megatron_lm", "num_processes",  "num_machines",   "machine_rank",
                                      "main_process_ip", "main_process_port", "mixed_precision", "dynamo_backend",
                                      "gpu_ids",      "num_cpu_threads_per_process", "debug", "max_restarts"};

std::string command_line(const std::vector<std::string>& argv) {
    std::vector<std::string> quoted;
    for (const auto& a : argv) {
        quoted.push_back(shell_quote(a));
    }
    return join(quoted, " ");
}

}  // namespace

std::string format_dry_run(const LaunchSettings& s, const Resolution& r, const LaunchPlan& plan) {
    std::string out = "accelerate launch --dry_run: nothing was started\n";
    out += fmt::format("config file: {}\n", r.config ? r.config->path : std::string("(none)"));
    out += "settings:\n";
    std::vector<std::string> shown;
    auto show = [&](const std::string& name) {
        if (std::find(shown.begin(), shown.end(), name) != shown.end()) {
            return;
        }
        shown.push_back(name);
        out += fmt::format("  {:<32} {:<20} ({})\n", name, s.get(name).repr(), origin_name(s.origin(name)));
    };
    for (const char* name : k_key_settings) {
        show(name);
    }
    for (const auto& [name, setting] : s.all()) {
        if (setting.origin != Origin::default_value) {
            show(name);
        }
    }
    for (const auto& note : plan.notes) {
        out += "note: " + note + "\n";
    }
    out += fmt::format("launcher: {}, {} worker(s) on this machine", launcher_name(plan.kind), plan.workers.size());
    if (plan.num_machines > 1) {
        out += fmt::format(" (machine {} of {})", plan.machine_rank, plan.num_machines);
    }
    out += "\n";
    for (const auto& w : plan.workers) {
        out += fmt::format("rank {} (local_rank {}):\n", w.rank, w.local_rank);
        out += "  command: " + command_line(w.argv) + "\n";
        out += "  environment added:\n";
        for (const auto& [k, v] : w.env) {
            out += fmt::format("    {}={}\n", k, shell_quote(v));
        }
        if (plan.torchrun_env) {
            out += "    TORCHELASTIC_ERROR_FILE=<run folder>/attempt_<n>/" + std::to_string(w.local_rank) +
                   "/error.json\n";
        }
    }
    return out;
}

}  // namespace acc::launch
