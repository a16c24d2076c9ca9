#include "acc/launch/resolve.hpp"

#include <fmt/format.h>

#include "acc/launch/slurm.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::launch {

namespace {

const std::vector<std::string> k_multi_device_types = {"MULTI_GPU", "MULTI_NPU", "MULTI_MLU", "MULTI_SDAA",
                                                       "MULTI_MUSA", "MULTI_XPU", "MULTI_HPU", "MULTI_NEURON"};
const std::vector<std::string> k_distributed_types = {"NO",        "MULTI_CPU",  "MULTI_GPU",  "MULTI_NPU",
                                                      "MULTI_MLU", "MULTI_SDAA", "MULTI_MUSA", "MULTI_XPU",
                                                      "DEEPSPEED", "FSDP",       "XLA",        "MEGATRON_LM",
                                                      "MULTI_HPU", "MULTI_NEURON"};

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// An unquoted `NO` in YAML is the boolean False; upstream then crashes. We read it as meant.
std::string distributed_type_of(const config::ConfigFile& cfg) {
    const Value& dt = cfg.field("distributed_type");
    std::string name = dt.kind() == Value::Kind::boolean && !dt.as_bool() ? "NO" : dt.str();
    if (!contains(k_distributed_types, name)) {
        throw ConfigError(fmt::format("{}: distributed_type {} is not valid; choose one of {}", cfg.path,
                                      Value::string(name).repr(), join(k_distributed_types, ", ")));
    }
    return name;
}

std::string renamed_config_key(const std::string& dict, const std::string& key) {
    if (dict == "fsdp_config" && key.rfind("fsdp", 0) != 0) {
        return "fsdp_" + key;
    }
    if (dict == "fp8_config" && key.rfind("fp8", 0) != 0) {
        return "fp8_" + key;
    }
    if (dict == "dynamo_config" && key.rfind("dynamo_", 0) != 0) {
        return "dynamo_" + key;
    }
    return key;
}

// upstream's get_int_from_env: the first variable holding an int >= 0.
std::optional<std::int64_t> int_from_env(const Environment& env, const std::vector<std::string>& keys) {
    for (const auto& k : keys) {
        if (auto v = env.get(k)) {
            auto n = parse_python_int(*v);
            if (!n) {
                throw Error(fmt::format("environment variable {}={} is {}; unset it or give a number", k,
                                        Value::string(*v).repr(),
                                        is_python_int_too_large(*v) ? "too large (at most 9223372036854775807)"
                                                                    : "not an integer"));
            }
            if (*n >= 0) {
                return n;
            }
        }
    }
    return std::nullopt;
}

void merge_config_fields(LaunchSettings& s, const config::ConfigFile& cfg) {
    for (const auto& [name, value] : cfg.fields.entries()) {
        if (name == "compute_environment" || name == "mixed_precision" || name == "distributed_type") {
            continue;
        }
        if (value.is_map()) {
            // Config entries override CLI defaults unless that option was typed.
            for (const auto& [key, v] : value.entries()) {
                std::string dest = renamed_config_key(name, key);
                if (!s.nondefault.count(dest)) {
                    s.set(dest, v, Origin::config_file);
                }
            }
        } else if (s.is_none(name)) {
            // Scalars only fill None: so rdzv_backend, same_network, enable_cpu_affinity,
            // tpu_use_sudo and downcast_bf16 from a config never apply (upstream quirk).
            s.set(name, value, Origin::config_file);
        }
    }
}

void resolve_with_config(LaunchSettings& s, const config::ConfigFile& cfg, Resolution& r) {
    r.distributed_type = distributed_type_of(cfg);
    if (!cfg.is_local_machine()) {
        throw Error(fmt::format(
            "{}: compute_environment {} (Amazon SageMaker) is not launched by this native launcher; submit the job "
            "with the Python package's `accelerate launch`, or use a LOCAL_MACHINE config",
            cfg.path, cfg.field("compute_environment").repr()));
    }
    const std::string& dt = r.distributed_type;
    bool paradigm_given = false;
    for (const char* f : {"multi_gpu", "tpu", "tpu_use_cluster", "use_deepspeed", "use_fsdp", "use_megatron_lm"}) {
        paradigm_given = paradigm_given || s.truthy(f);
    }
    if (!paradigm_given) {
        s.set("use_deepspeed", Value::boolean(dt == "DEEPSPEED"), Origin::config_file);
        s.set("multi_gpu", Value::boolean(contains(k_multi_device_types, dt)), Origin::config_file);
        s.set("tpu", Value::boolean(dt == "XLA"), Origin::config_file);
        s.set("use_fsdp", Value::boolean(dt == "FSDP"), Origin::config_file);
        s.set("use_megatron_lm", Value::boolean(dt == "MEGATRON_LM"), Origin::config_file);
        s.set("tpu_use_cluster", Value::boolean(dt == "XLA" && cfg.field("tpu_use_cluster").truthy()),
              Origin::config_file);
        const Value& pc = cfg.field("parallelism_config");
        s.set("use_parallelism_config", Value::boolean(pc.is_map() && !pc.entries().empty()), Origin::config_file);
    }
    if (s.is_none("gpu_ids")) {
        const Value& ids = cfg.field("gpu_ids");
        if (ids.is_none()) {
            s.set("gpu_ids", Value::string("all"), Origin::default_value);
        } else {
            s.set("gpu_ids", Value::string(ids.str()), Origin::config_file);
        }
    }
    if (s.truthy("multi_gpu") && s.is_none("num_machines")) {
        s.set("num_machines", cfg.field("num_machines"), Origin::config_file);
    }
    std::string gpu_ids = s.str("gpu_ids");
    auto num_machines = s.get_int("num_machines");
    if (split(gpu_ids, ',').size() < 2 && gpu_ids != "all" && s.truthy("multi_gpu") &&
        (!num_machines || *num_machines <= 1)) {
        throw Error(
            "Less than two GPU ids were configured and tried to run on multiple GPUs. Please ensure at least two are "
            "specified for `--gpu_ids`, or use `--gpu_ids='all'`.");
    }
    merge_config_fields(s, cfg);
    if (!s.truthy("debug")) {
        s.set("debug", cfg.field("debug"), Origin::config_file);
    }
    if (!s.truthy("mixed_precision")) {
        const Value& mp = cfg.field("mixed_precision");
        if (!mp.is_none()) {
            // Unquoted `no` loads as False; upstream crashes on it, we read it as meant.
            Value v = mp.kind() == Value::Kind::boolean && !mp.as_bool() ? Value::string("no") : mp;
            s.set("mixed_precision", v, Origin::config_file);
            r.mixed_precision_from_config = true;
        } else {
            s.set("mixed_precision", Value::string("no"), Origin::default_value);
        }
    }
    if (s.is_none("dynamo_backend")) {
        s.set("dynamo_backend", Value::string("no"), Origin::default_value);
    }
    if (s.get_int("num_processes") == std::optional<std::int64_t>(-1)) {
        throw Error("You need to manually pass in `--num_processes` using this config yaml.");
    }
}

void resolve_without_config(LaunchSettings& s, const HostFacts& facts, Resolution& r) {
    auto& warn = r.default_warnings;
    if (s.is_none("num_processes")) {
        int n = facts.gpu_count ? facts.gpu_count() : 0;
        s.set("num_processes", Value::integer(n), Origin::hardware);
        warn.push_back(fmt::format("\t`--num_processes` was set to a value of `{}`", n));
    }
    if (s.is_none("debug")) {
        s.set("debug", Value::boolean(false), Origin::default_value);
    }
    auto n = s.get_int("num_processes").value_or(0);
    if (!s.truthy("multi_gpu") && n > 1 && facts.gpu_count && facts.gpu_count() > 1) {
        s.set("multi_gpu", Value::boolean(true), Origin::hardware);
        warn.push_back(
            "\t\tMore than one GPU was found, enabling multi-GPU training.\n"
            "\t\tIf this was unintended please pass in `--num_processes=1`.");
    }
    if (s.is_none("num_machines")) {
        s.set("num_machines", Value::integer(1), Origin::default_value);
        warn.push_back("\t`--num_machines` was set to a value of `1`");
    }
    if (s.is_none("mixed_precision")) {
        s.set("mixed_precision", Value::string("no"), Origin::default_value);
        warn.push_back("\t`--mixed_precision` was set to a value of `'no'`");
    }
    if (!s.has("use_cpu")) {
        s.set("use_cpu", s.get("cpu"), s.origin("cpu"));
    }
    if (s.is_none("dynamo_backend")) {
        s.set("dynamo_backend", Value::string("no"), Origin::default_value);
        warn.push_back("\t`--dynamo_backend` was set to a value of `'no'`");
    }
}

void resolve_cpu_threads(LaunchSettings& s, const HostFacts& facts, Resolution& r) {
    if (!s.is_none("num_cpu_threads_per_process")) {
        return;
    }
    const Environment& env = facts.env;
    auto omp = int_from_env(env, {"OMP_NUM_THREADS"});
    s.set("num_cpu_threads_per_process", Value::integer(omp.value_or(1)),
          omp ? Origin::environment : Origin::default_value);
    auto n = s.get_int("num_processes").value_or(0);
    bool omp_unset = !omp || *omp == 0;
    if (s.truthy("use_cpu") && n >= 1 && omp_unset) {
        auto local = int_from_env(env, {"MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE"});
        std::int64_t machines = std::max<std::int64_t>(s.get_int("num_machines").value_or(1), 1);
        std::int64_t local_size = local.value_or(std::max<std::int64_t>(n / machines, 1));
        if (local_size <= 0) {
            local_size = 1;
        }
        std::int64_t threads = (facts.physical_cores ? facts.physical_cores() : 1) / local_size;
        if (threads > 1) {
            s.set("num_cpu_threads_per_process", Value::integer(threads), Origin::hardware);
            r.default_warnings.push_back(fmt::format(
                "\t`--num_cpu_threads_per_process` was set to `{}` to improve out-of-box performance when training on "
                "CPUs",
                threads));
        }
    }
}

}  // namespace

std::optional<std::string> config_path_to_load(const LaunchSettings& settings, const Environment& env,
                                               bool default_exists) {
    if (!settings.is_none("config_file")) {
        return settings.str("config_file");
    }
    if (default_exists && !settings.truthy("cpu")) {
        return config::default_config_path(env);
    }
    return std::nullopt;
}

void check_flag_conflicts(const LaunchSettings& s) {
    int hardware = 0;
    for (const char* f : {"cpu", "multi_gpu", "tpu", "use_deepspeed", "use_fsdp"}) {
        hardware += s.truthy(f) ? 1 : 0;
    }
    if (hardware > 1) {
        throw UsageError(
            "You can only use one of `--cpu`, `--multi_gpu`, `--tpu`, `--use_deepspeed`, `--use_fsdp` at a time.");
    }
    auto n = s.get_int("num_processes");
    if (s.truthy("multi_gpu") && n && *n < 2) {
        throw UsageError("You need to use at least 2 processes to use `--multi_gpu`.");
    }
    if (!s.truthy("use_fsdp") && s.truthy("use_parallelism_config")) {
        throw UsageError("You cannot use `--use_parallelism_config` without `--use_fsdp` and `--fsdp_version=2`.");
    }
    if (s.truthy("module") && s.truthy("no_python")) {
        throw UsageError("--module and --no_python cannot be used together");
    }
}

Resolution resolve_settings(LaunchSettings& s, std::optional<config::ConfigFile> config, const HostFacts& facts) {
    Resolution r;
    // Inside a SLURM step: the machine layout SLURM gave us, unless typed as flags.
    apply_slurm(s, facts.env);
    if (config) {
        resolve_with_config(s, *config, r);
    } else {
        resolve_without_config(s, facts, r);
    }
    r.config = std::move(config);
    resolve_cpu_threads(s, facts, r);
    return r;
}

std::string format_default_warning(const std::vector<std::string>& lines) {
    if (lines.empty()) {
        return "";
    }
    return "The following values were not passed to `accelerate launch` and had defaults used instead:\n" +
           join(lines, "\n") +
           "\nTo avoid this warning pass in values for each of the problematic parameters or run `accelerate config`.";
}

}  // namespace acc::launch
