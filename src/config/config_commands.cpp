#include "acc/config/config_commands.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "acc/config/serialize.hpp"
#include "acc/util/error.hpp"

namespace acc::config {

namespace {

const std::vector<std::string>& distributed_types() {
    static const std::vector<std::string> v = {"NO",         "MULTI_CPU", "MULTI_GPU", "MULTI_NPU",   "MULTI_MLU",
                                               "MULTI_SDAA", "MULTI_MUSA", "MULTI_XPU", "DEEPSPEED",  "FSDP",
                                               "XLA",        "MEGATRON_LM", "MULTI_HPU", "MULTI_NEURON"};
    return v;
}

void check_enum(const Value& v, const std::vector<std::string>& allowed, const std::string& enum_name,
                const std::string& path) {
    if (!v.is_string()) {
        return;  // upstream keeps non-strings (YAML `NO` is false) unvalidated
    }
    if (std::find(allowed.begin(), allowed.end(), v.as_string()) == allowed.end()) {
        throw ConfigError(fmt::format("{}: {} is not a valid {} (one of: {})", path, v.repr(), enum_name,
                                      fmt::join(allowed, ", ")));
    }
}

}  // namespace

Value default_config_dict(const std::string& mixed_precision, int cuda_devices) {
    std::vector<std::pair<std::string, Value>> entries = cluster_config_defaults().entries();
    auto set = [&](const std::string& key, Value v) {
        for (auto& [k, existing] : entries) {
            if (k == key) {
                existing = std::move(v);
            }
        }
    };
    set("compute_environment", Value::string("LOCAL_MACHINE"));
    set("mixed_precision", Value::string(mixed_precision));
    if (cuda_devices > 0) {
        set("num_processes", Value::integer(cuda_devices));
        set("use_cpu", Value::boolean(false));
        set("distributed_type", Value::string(cuda_devices > 1 ? "MULTI_GPU" : "NO"));
    } else {
        set("use_cpu", Value::boolean(true));
        set("num_processes", Value::integer(1));
        set("distributed_type", Value::string("NO"));
    }
    set("debug", Value::boolean(false));
    set("enable_cpu_affinity", Value::boolean(false));
    return to_dict(Value::map(std::move(entries)));
}

Value loaded_config_dict(const ConfigFile& config) {
    const Value& ce = config.field("compute_environment");
    check_enum(ce, {"LOCAL_MACHINE", "AMAZON_SAGEMAKER"}, "ComputeEnvironment", config.path);
    if (config.is_local_machine()) {
        check_enum(config.field("distributed_type"), distributed_types(), "DistributedType", config.path);
        std::vector<std::pair<std::string, Value>> entries;
        for (const auto& name : cluster_config_fields()) {
            entries.emplace_back(name, config.field(name));
        }
        return to_dict(Value::map(std::move(entries)));
    }
    check_enum(config.field("distributed_type"), {"NO", "DATA_PARALLEL", "MODEL_PARALLEL"},
               "SageMakerDistributedType", config.path);
    auto in_file = [&](const std::string& k) {
        return std::find(config.keys_in_file.begin(), config.keys_in_file.end(), k) != config.keys_in_file.end();
    };
    std::vector<std::string> missing;
    for (const char* k : {"ec2_instance_type", "iam_role_name"}) {
        if (!in_file(k)) {
            missing.emplace_back(k);
        }
    }
    if (!missing.empty()) {
        throw ConfigError(fmt::format("the SageMaker config {} lacks {}; add {} or run `accelerate config` again",
                                      config.path, fmt::join(missing, " and "), missing.size() > 1 ? "them" : "it"));
    }
    const std::vector<std::pair<std::string, Value>> sagemaker = {
        {"compute_environment", Value::none()},  {"distributed_type", Value::none()},
        {"mixed_precision", Value::none()},      {"use_cpu", Value::boolean(false)},
        {"debug", Value::boolean(false)},        {"ec2_instance_type", Value::none()},
        {"iam_role_name", Value::none()},        {"image_uri", Value::none()},
        {"profile", Value::none()},              {"region", Value::string("us-east-1")},
        {"num_machines", Value::integer(1)},     {"gpu_ids", Value::string("all")},
        {"base_job_name", Value::string("accelerate-sagemaker-1")},
        {"pytorch_version", Value::string("1.10.2")},
        {"transformers_version", Value::string("4.17.0")},
        {"py_version", Value::string("py38")},   {"sagemaker_inputs_file", Value::none()},
        {"sagemaker_metrics_file", Value::none()}, {"additional_args", Value::none()},
        {"dynamo_config", Value::map({})},       {"enable_cpu_affinity", Value::boolean(false)},
    };
    std::vector<std::pair<std::string, Value>> entries;
    for (const auto& [name, fallback] : sagemaker) {
        Value v = in_file(name) ? config.field(name) : fallback;
        if (name == "dynamo_config" && v.is_none()) {
            v = Value::map({});
        }
        entries.emplace_back(name, v);
    }
    return to_dict(Value::map(std::move(entries)));
}

std::string render_config(const Value& dict, const std::string& path) {
    return is_json_path(path) ? to_json(dict) : to_yaml(dict);
}

std::string env_report(const EnvFacts& f) {
    auto or_missing = [](const std::string& v, const std::string& missing) { return v.empty() ? missing : v; };
    std::string out = "\nCopy-and-paste the text below in your GitHub issue\n\n";
    out += fmt::format("- `Accelerate` version: {}\n",
                       or_missing(f.accelerate_version, "not installed (the Python package is not importable)"));
    out += fmt::format("- `accelerate` native CLI version: {}\n", f.native_version);
    out += fmt::format("- Platform: {}\n", f.platform);
    out += fmt::format("- `accelerate` bash location: {}\n", f.accelerate_location);
    out += fmt::format("- Python version: {}\n",
                       or_missing(f.python_version, f.python_executable.empty() ? "no Python found" : "unknown"));
    out += fmt::format("- Python executable: {}\n",
                       or_missing(f.python_executable, "none (put python3 on PATH or set PYTHON_EXEC)"));
    out += fmt::format("- Numpy version: {}\n", or_missing(f.numpy_version, "not installed"));
    out += fmt::format("- PyTorch version: {}\n", or_missing(f.torch_version, "not installed"));
    out += fmt::format("- PyTorch accelerator: {}\n", or_missing(f.torch_accelerator, "N/A"));
    out += fmt::format("- System RAM: {:.2f} GB\n", f.ram_bytes / (1024.0 * 1024.0 * 1024.0));
    if (!f.device_type_line.empty()) {
        out += fmt::format("- {}\n", f.device_type_line);
    }
    out += fmt::format("- NVIDIA GPUs (NVML): {}\n", f.cuda_devices);
    out += f.config_passed ? "- `Accelerate` config passed:\n" : "- `Accelerate` default config:\n";
    if (!f.config) {
        out += "\tNot found\n";
    } else {
        for (const auto& [k, v] : f.config->entries()) {
            out += fmt::format("\t- {}: {}\n", k, v.str());
        }
    }
    return out;
}

}  // namespace acc::config
