#include "acc/launch/launch_plan.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "acc/launch/arg_macros.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::launch {

namespace {

using EnvMap = std::map<std::string, std::string>;

// upstream's DynamoBackend enum, in its order (utils/dataclasses.py).
const std::vector<std::string> k_dynamo_backends = {
    "NO",       "EAGER",  "AOT_EAGER", "INDUCTOR", "AOT_TS_NVFUSER",          "NVPRIMS_NVFUSER",     "CUDAGRAPHS",
    "OFI",      "FX2TRT", "ONNXRT",    "TENSORRT", "AOT_TORCHXLA_TRACE_ONCE", "TORCHXLA_TRACE_ONCE", "TVM",
    "HPU_BACKEND", "NEURON"};

std::string lower_str(const Value& v) { return to_lower(v.str()); }

std::string mixed_precision_value(const LaunchSettings& s) {
    std::string mp = to_lower(s.str("mixed_precision"));
    if (mp != "no" && mp != "fp8" && mp != "fp16" && mp != "bf16") {
        throw Error(fmt::format("Unknown mixed_precision mode: {}. Choose between ['no', 'fp8', 'fp16', 'bf16'].", mp));
    }
    return mp;
}

void add_fp8_env(const LaunchSettings& s, EnvMap& env) {
    if (to_lower(s.str("mixed_precision")) != "fp8") {
        return;
    }
    for (const auto& [name, setting] : s.all()) {
        if (name.rfind("fp8_", 0) != 0 || setting.value.is_none()) {
            continue;
        }
        if (name == "fp8_override_linear_precision") {
            // Upstream indexes the value: a list gives its items, a string its characters
            // ('abc' gives a, b, c), fewer than three an IndexError.
            std::vector<std::string> values;
            if (setting.value.is_string()) {
                for (char c : setting.value.as_string().substr(0, 3)) {
                    values.emplace_back(1, c);
                }
            } else {
                for (const auto& item : setting.value.items()) {
                    values.push_back(item.str());
                }
            }
            if (values.size() < 3) {
                throw UsageError(
                    setting.origin == Origin::config_file
                        ? fmt::format("fp8_config.override_linear_precision in the config file needs three values "
                                      "(fprop, dgrad, wgrad), e.g. [false, false, true]; got {}",
                                      setting.value.repr())
                        : fmt::format("--fp8_override_linear_precision takes three values (fprop,dgrad,wgrad), "
                                      "e.g. false,false,true; got {}",
                                      values.size()));
            }
            const char* parts[] = {"FPROP", "DGRAD", "WGRAD"};
            for (size_t i = 0; i < 3; ++i) {
                env[std::string("ACCELERATE_FP8_OVERRIDE_") + parts[i]] = values[i];
            }
        } else {
            env["ACCELERATE_" + to_upper(name)] = setting.value.str();
        }
    }
}

void add_dynamo_env(const LaunchSettings& s, EnvMap& env) {
    const Value& backend = s.get("dynamo_backend");
    std::string name = backend.kind() == Value::Kind::boolean && !backend.as_bool() ? "NO" : to_upper(backend.str());
    if (std::find(k_dynamo_backends.begin(), k_dynamo_backends.end(), name) == k_dynamo_backends.end()) {
        std::vector<std::string> quoted;  // printed as Python prints the list
        for (const auto& b : k_dynamo_backends) {
            quoted.push_back("'" + b + "'");
        }
        throw Error(fmt::format("Unknown dynamo backend: {}. Choose between [{}].", name, join(quoted, ", ")));
    }
    env["ACCELERATE_DYNAMO_BACKEND"] = name;
    env["ACCELERATE_DYNAMO_MODE"] = s.str("dynamo_mode");
    env["ACCELERATE_DYNAMO_USE_FULLGRAPH"] = s.str("dynamo_use_fullgraph");
    env["ACCELERATE_DYNAMO_USE_DYNAMIC"] = s.str("dynamo_use_dynamic");
    env["ACCELERATE_DYNAMO_USE_REGIONAL_COMPILATION"] = s.str("dynamo_use_regional_compilation");
}

void add_visible_devices(const LaunchSettings& s, EnvMap& env) {
    const Value& ids = s.get("gpu_ids");
    if (!ids.is_none() && ids.str() != "all") {
        env["CUDA_VISIBLE_DEVICES"] = ids.str();
    }
}

void add_fsdp_env(const LaunchSettings& s, EnvMap& env) {
    if (s.truthy("fsdp_cpu_ram_efficient_loading") && !s.truthy("fsdp_sync_module_states")) {
        throw Error("When using `--fsdp_cpu_ram_efficient_loading` set `--fsdp_sync_module_states` to `True`");
    }
    env["ACCELERATE_USE_FSDP"] = "true";
    env["FSDP_VERSION"] = s.str("fsdp_version");
    env["FSDP_SHARDING_STRATEGY"] = s.str("fsdp_sharding_strategy");
    env["FSDP_RESHARD_AFTER_FORWARD"] = lower_str(s.get("fsdp_reshard_after_forward"));
    env["FSDP_OFFLOAD_PARAMS"] = lower_str(s.get("fsdp_offload_params"));
    env["FSDP_MIN_NUM_PARAMS"] = s.str("fsdp_min_num_params");
    if (!s.is_none("fsdp_auto_wrap_policy")) {
        env["FSDP_AUTO_WRAP_POLICY"] = s.str("fsdp_auto_wrap_policy");
    }
    if (!s.is_none("fsdp_transformer_layer_cls_to_wrap")) {
        env["FSDP_TRANSFORMER_CLS_TO_WRAP"] = s.str("fsdp_transformer_layer_cls_to_wrap");
    }
    if (!s.is_none("fsdp_backward_prefetch")) {
        env["FSDP_BACKWARD_PREFETCH"] = s.str("fsdp_backward_prefetch");
    }
    if (!s.is_none("fsdp_state_dict_type")) {
        env["FSDP_STATE_DICT_TYPE"] = s.str("fsdp_state_dict_type");
    }
    env["FSDP_FORWARD_PREFETCH"] = lower_str(s.get("fsdp_forward_prefetch"));
    env["FSDP_USE_ORIG_PARAMS"] = lower_str(s.get("fsdp_use_orig_params"));
    env["FSDP_CPU_RAM_EFFICIENT_LOADING"] = lower_str(s.get("fsdp_cpu_ram_efficient_loading"));
    env["FSDP_SYNC_MODULE_STATES"] = lower_str(s.get("fsdp_sync_module_states"));
    env["FSDP_ACTIVATION_CHECKPOINTING"] = lower_str(s.get("fsdp_activation_checkpointing"));
    if (!s.is_none("fsdp_ignored_modules")) {
        env["FSDP_IGNORED_MODULES"] = s.str("fsdp_ignored_modules");
    }
}

void add_megatron_env(const LaunchSettings& s, EnvMap& env) {
    env["ACCELERATE_USE_MEGATRON_LM"] = "true";
    static const std::vector<std::string> always = {
        "tp_degree",         "use_custom_fsdp",        "pp_degree",
        "gradient_clipping", "no_load_optim",          "eod_mask_loss",
        "no_save_optim",     "optimizer_cpu_offload",  "use_precision_aware_optimizer",
        "overlap_cpu_optimizer_d2h_h2d"};
    static const std::vector<std::string> optional = {
        "decoder_last_pipeline_num_layers", "num_micro_batches",        "sequence_parallelism",
        "recompute_activations",            "use_distributed_optimizer", "recompute_granularity",
        "recompute_method",                 "recompute_num_layers",     "attention_backend",
        "expert_model_parallel_size",       "context_parallel_size",    "attention_dropout",
        "hidden_dropout",                   "attention_softmax_in_fp32", "expert_tensor_parallel_size",
        "calculate_per_token_loss",         "use_rotary_position_embeddings"};
    for (const auto& n : always) {
        env["MEGATRON_LM_" + to_upper(n)] = s.str("megatron_lm_" + n);
    }
    for (const auto& n : optional) {
        if (!s.is_none("megatron_lm_" + n)) {
            env["MEGATRON_LM_" + to_upper(n)] = s.str("megatron_lm_" + n);
        }
    }
}

void add_parallelism_env(const LaunchSettings& s, EnvMap& env) {
    env["ACCELERATE_USE_PARALLELISM_CONFIG"] = "true";
    for (const char* n : {"dp_replicate_size", "dp_shard_size", "tp_size", "cp_size", "cp_backend", "sp_size",
                          "sp_backend"}) {
        env["PARALLELISM_CONFIG_" + to_upper(n)] = s.str(std::string("parallelism_config_") + n);
    }
    if (s.get_int("parallelism_config_cp_size").value_or(1) > 1) {
        env["PARALLELISM_CONFIG_CP_COMM_STRATEGY"] = s.str("parallelism_config_cp_comm_strategy");
    }
    if (s.get_int("parallelism_config_sp_size").value_or(1) > 1) {
        env["PARALLELISM_CONFIG_SP_SEQ_LENGTH"] = s.str("parallelism_config_sp_seq_length");
        env["PARALLELISM_CONFIG_SP_SEQ_LENGTH_IS_VARIABLE"] = s.str("parallelism_config_sp_seq_length_is_variable");
        env["PARALLELISM_CONFIG_SP_ATTN_IMPLEMENTATION"] = s.str("parallelism_config_sp_attn_implementation");
    }
}

// prepare_multi_gpu_env: what every torchrun-path worker shares. With `paradigms` off,
// only what the simple launcher's worker gets as well (no FSDP, Megatron-LM or
// ParallelismConfig variables): a --cpu job starts upstream's simple launcher, whose
// script never hears of them.
EnvMap multi_gpu_env(const LaunchSettings& s, bool paradigms = true) {
    EnvMap env;
    if (s.truthy("debug")) {
        env["ACCELERATE_DEBUG_MODE"] = "true";
    }
    add_visible_devices(s, env);
    env["ACCELERATE_MIXED_PRECISION"] = mixed_precision_value(s);
    add_fp8_env(s, env);
    add_dynamo_env(s, env);
    if (paradigms && s.truthy("use_fsdp")) {
        add_fsdp_env(s, env);
    }
    if (paradigms && s.truthy("use_megatron_lm")) {
        add_megatron_env(s, env);
    }
    env["OMP_NUM_THREADS"] = s.str("num_cpu_threads_per_process");
    if (s.truthy("enable_cpu_affinity")) {
        env["ACCELERATE_CPU_AFFINITY"] = "1";
    }
    if (paradigms && s.truthy("use_parallelism_config")) {
        add_parallelism_env(s, env);
    }
    return env;
}

// prepare_deepspeed_cmd_env's variables.
EnvMap deepspeed_env(const LaunchSettings& s, const Resolution& r, const HostFacts& facts) {
    EnvMap env;
    if (s.truthy("debug")) {
        env["ACCELERATE_DEBUG_MODE"] = "true";
    }
    add_visible_devices(s, env);
    std::vector<std::string> path_entries;
    for (const auto& p : split(facts.env.get("PYTHONPATH").value_or(""), ':')) {
        if (!p.empty()) {
            path_entries.push_back(p);
        }
    }
    path_entries.push_back(facts.cwd);
    env["PYTHONPATH"] = join(path_entries, ":");
    env["ACCELERATE_MIXED_PRECISION"] = mixed_precision_value(s);
    add_fp8_env(s, env);
    std::vector<std::string> fields;
    if (r.config) {
        for (const auto& [k, v] : r.config->field("deepspeed_config").entries()) {
            fields.push_back(k);
        }
    }
    if (r.mixed_precision_from_config) {
        fields.emplace_back("mixed_precision");
    }
    env["ACCELERATE_CONFIG_DS_FIELDS"] = to_lower(join(fields, ","));
    env["ACCELERATE_USE_DEEPSPEED"] = "true";
    auto put = [&](const char* var, const char* name, bool lower) {
        if (!s.is_none(name)) {
            env[var] = lower ? to_lower(s.str(name)) : s.str(name);
        }
    };
    put("ACCELERATE_DEEPSPEED_ZERO_STAGE", "zero_stage", false);
    put("ACCELERATE_GRADIENT_ACCUMULATION_STEPS", "gradient_accumulation_steps", false);
    put("ACCELERATE_GRADIENT_CLIPPING", "gradient_clipping", true);
    put("ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE", "offload_optimizer_device", true);
    put("ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE", "offload_param_device", true);
    put("ACCELERATE_DEEPSPEED_ZERO3_INIT", "zero3_init_flag", true);
    put("ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL", "zero3_save_16bit_model", true);
    put("ACCELERATE_DEEPSPEED_CONFIG_FILE", "deepspeed_config_file", false);
    put("ACCELERATE_DEEPSPEED_MOE_LAYER_CLS_NAMES", "deepspeed_moe_layer_cls_names", false);
    if (s.truthy("enable_cpu_affinity")) {
        env["ACCELERATE_CPU_AFFINITY"] = "1";
    }
    if (s.truthy("use_parallelism_config")) {
        add_parallelism_env(s, env);
    }
    return env;
}

// prepare_simple_launcher_cmd_env's variables.
EnvMap simple_env(const LaunchSettings& s) {
    EnvMap env;
    // str(cpu or use_cpu): with --cpu off, Python's `or` gives the config's own value, so
    // `use_cpu: 'false'` goes out as written (and the worker reads it back as False).
    env["ACCELERATE_USE_CPU"] = s.truthy("cpu") ? s.get("cpu").str() : s.get("use_cpu").str();
    if (s.truthy("debug")) {
        env["ACCELERATE_DEBUG_MODE"] = "true";
    }
    add_visible_devices(s, env);
    auto n = s.get_int("num_processes");
    auto machines = s.get_int("num_machines").value_or(1);
    if (machines > 1) {
        if (s.is_none("main_process_ip")) {
            throw Error(
                "When using multiple machines, you need to specify the main process IP: pass --main_process_ip or set "
                "main_process_ip in the config");
        }
        if (s.is_none("main_process_port")) {
            throw Error(
                "When using multiple machines, you need to specify the main process port: pass --main_process_port or "
                "set main_process_port in the config");
        }
    }
    if ((n && *n > 1) || machines > 1) {
        env["MASTER_ADDR"] = s.is_none("main_process_ip") ? "127.0.0.1" : s.str("main_process_ip");
        env["MASTER_PORT"] = s.is_none("main_process_port") ? "29500" : s.str("main_process_port");
    }
    env["ACCELERATE_MIXED_PRECISION"] = mixed_precision_value(s);
    add_fp8_env(s, env);
    add_dynamo_env(s, env);
    env["OMP_NUM_THREADS"] = s.str("num_cpu_threads_per_process");
    if (s.truthy("enable_cpu_affinity")) {
        env["ACCELERATE_CPU_AFFINITY"] = "1";
    }
    return env;
}

std::vector<std::string> script_argv(const LaunchSettings& s, const std::string& python, bool unbuffered) {
    std::vector<std::string> argv;
    if (!s.truthy("no_python")) {
        argv.push_back(python);
        if (unbuffered) {
            argv.emplace_back("-u");
        }
        if (s.truthy("module")) {
            argv.emplace_back("-m");
        }
    }
    argv.push_back(s.training_script);
    argv.insert(argv.end(), s.training_script_args.begin(), s.training_script_args.end());
    return argv;
}

int to_small_int(std::int64_t v) { return static_cast<int>(std::clamp<std::int64_t>(v, -1, 1 << 20)); }

// The shape of a torchrun-style job on this machine: ranks, port, address.
struct Topology {
    int nproc = 1;
    int nnodes = 1;
    int node_rank = 0;
    std::string master_addr = "127.0.0.1";
    int port = 29500;
};

Topology plan_topology(const LaunchSettings& s, const HostFacts& facts, LaunchPlan& plan) {
    Topology t;
    auto n = s.get_int("num_processes").value_or(0);
    t.nnodes = to_small_int(std::max<std::int64_t>(s.get_int("num_machines").value_or(1), 1));
    // The machines always meet through the static rendezvous (machine 0's launcher hosts
    // the store); c10d's elastic membership is not implemented, and on one machine there
    // is nothing to meet. A backend torchrun would not know fails here as there.
    const std::string backend = s.is_none("rdzv_backend") ? std::string("static") : s.str("rdzv_backend");
    if (backend != "static" && backend != "c10d") {
        throw UsageError(fmt::format(
            "--rdzv_backend {} is not supported by this native launcher; use static (the default) or c10d (run "
            "as static)",
            backend));
    }
    auto requested_port = s.get_int("main_process_port");
    if (requested_port && (*requested_port < 0 || *requested_port > 65535)) {
        throw UsageError(fmt::format("main_process_port {} is not a TCP port (0-65535)", *requested_port));
    }
    if (requested_port && *requested_port == 0) {
        t.port = facts.free_port();
    } else {
        t.port = requested_port ? static_cast<int>(*requested_port) : 29500;
    }
    if (t.nnodes > 1) {
        if (s.is_none("main_process_ip")) {
            throw Error(fmt::format(
                "a multi-machine launch (num_machines={}) needs the address of machine 0: pass --main_process_ip "
                "(and the same --main_process_port on every machine) or set main_process_ip in the config",
                t.nnodes));
        }
        if (s.is_none("machine_rank")) {
            throw Error(fmt::format(
                "a multi-machine launch (num_machines={}) needs this machine's rank: pass --machine_rank 0..{}",
                t.nnodes, t.nnodes - 1));
        }
        auto rank = *s.get_int("machine_rank");
        if (rank < 0 || rank >= t.nnodes) {
            throw UsageError(fmt::format("machine_rank {} is out of range for num_machines={} (use 0..{})", rank,
                                         t.nnodes, t.nnodes - 1));
        }
        t.node_rank = static_cast<int>(rank);
        if (backend == "c10d") {
            plan.notes.push_back(
                "--rdzv_backend c10d runs as the static rendezvous here: machine 0's launcher hosts the store at "
                "main_process_ip:main_process_port and the machines are fixed (no elastic membership); see "
                "docs/MULTI_MACHINE.md");
        }
        t.nproc = to_small_int(n / t.nnodes);
        t.master_addr = s.str("main_process_ip");
        if (t.node_rank == 0 && facts.port_in_use && facts.port_in_use(t.port)) {
            throw Error(fmt::format(
                "Tried to launch distributed communication on port `{}`, but another process is utilizing it. Please "
                "specify a different port (such as using the `--main_process_port` flag or specifying a different "
                "`main_process_port` in your config file) and rerun your script. To automatically use the next "
                "open port (on a single node), you can set this to `0`.",
                t.port));
        }
    } else {
        t.nproc = to_small_int(n);
        if (auto addr = facts.env.get("PET_MASTER_ADDR")) {
            t.master_addr = *addr;
        }
        if (facts.port_in_use && facts.port_in_use(t.port)) {
            int fresh = facts.free_port();
            plan.notes.push_back(fmt::format(
                "port {} is already in use on this machine; using free port {} instead (pass --main_process_port to "
                "choose one)",
                t.port, fresh));
            t.port = fresh;
        }
    }
    if (t.nproc < 1) {
        throw Error(fmt::format(
            "nothing to launch: {} process(es) per machine; pass --num_processes N (N >= {}) or run `accelerate "
            "config`",
            t.nproc, t.nnodes));
    }
    return t;
}

// torchrun's per-worker variables (torchrun-contract section 2).
void add_torchrun_workers(const LaunchSettings& s, const HostFacts& facts, const Topology& t, const EnvMap& common,
                          const std::vector<std::string>& argv, LaunchPlan& plan) {
    const int world = t.nproc * t.nnodes;
    plan.run_id = facts.env.get("PET_RDZV_ID").value_or("none");
    const std::string async_errors = facts.env.get("TORCH_NCCL_ASYNC_ERROR_HANDLING").value_or("1");
    for (int lr = 0; lr < t.nproc; ++lr) {
        WorkerSpec w;
        w.local_rank = lr;
        w.rank = t.node_rank * t.nproc + lr;
        w.argv = substitute_local_rank(argv, lr);  // torchrun's ${local_rank} in the arguments
        w.env = common;
        w.env["LOCAL_RANK"] = std::to_string(lr);
        w.env["RANK"] = std::to_string(w.rank);
        w.env["GROUP_RANK"] = std::to_string(t.node_rank);
        w.env["ROLE_RANK"] = std::to_string(w.rank);
        w.env["ROLE_NAME"] = s.str("role");
        w.env["LOCAL_WORLD_SIZE"] = std::to_string(t.nproc);
        w.env["WORLD_SIZE"] = std::to_string(world);
        w.env["GROUP_WORLD_SIZE"] = std::to_string(t.nnodes);
        w.env["ROLE_WORLD_SIZE"] = std::to_string(world);
        w.env["MASTER_ADDR"] = t.master_addr;
        w.env["MASTER_PORT"] = std::to_string(t.port);
        w.env["TORCHELASTIC_RESTART_COUNT"] = "0";
        w.env["TORCHELASTIC_MAX_RESTARTS"] = s.str("max_restarts");
        w.env["TORCHELASTIC_RUN_ID"] = plan.run_id;
        // The launcher on machine 0 hosts the c10d store, as torchrun's agent does.
        w.env["TORCHELASTIC_USE_AGENT_STORE"] = "True";
        w.env["TORCH_NCCL_ASYNC_ERROR_HANDLING"] = async_errors;
        plan.workers.push_back(std::move(w));
    }
    plan.nproc_per_node = t.nproc;
    plan.num_machines = t.nnodes;
    plan.machine_rank = t.node_rank;
    plan.torchrun_env = true;
    plan.max_restarts = to_small_int(s.get_int("max_restarts").value_or(0));
    if (plan.max_restarts < 0) {
        throw UsageError("--max_restarts must be 0 or more");
    }
}

// upstream's _get_mpirun_args: Open MPI and Intel MPI / MVAPICH spell the flags differently.
LaunchPlan plan_mpirun(const LaunchSettings& s, const HostFacts& facts) {
    auto mpi = facts.mpi_launcher ? facts.mpi_launcher() : std::nullopt;
    if (!mpi) {
        throw Error("mpirun or mpiexec were not found. Ensure that Intel MPI, Open MPI, or MVAPICH are installed.");
    }
    const bool open_mpi = mpi->second.find("Open MPI") != std::string::npos;
    auto n = s.get_int("num_processes").value_or(0);
    auto machines = s.get_int("num_machines").value_or(0);
    std::string per_node = n && machines ? std::to_string(n / machines) : "1";
    LaunchPlan plan;
    plan.kind = LauncherKind::mpirun;
    WorkerSpec w;
    w.argv = {mpi->first, open_mpi ? "--hostfile" : "-f", s.str("mpirun_hostfile"), open_mpi ? "--npernode" : "-ppn",
              per_node};
    if (n) {
        w.argv.insert(w.argv.end(), {"-n", std::to_string(n)});
    }
    if (open_mpi) {
        w.argv.insert(w.argv.end(), {"--bind-to", "socket"});
    }
    auto script = script_argv(s, facts.python, false);
    w.argv.insert(w.argv.end(), script.begin(), script.end());
    w.env = simple_env(s);
    plan.workers.push_back(std::move(w));
    return plan;
}

// upstream hands the torchrun path its environment through patch_environment, which
// sets every key upper-cased, in the environment's own order and then its additions: a
// launcher variable like http_proxy also reaches the workers as HTTP_PROXY, and where
// both spellings are set (no_proxy and NO_PROXY) the one later in the environment wins.
// Workers must see the same environment, so we do the same.
void add_uppercased_duplicates(const Environment& launcher_env, LaunchPlan& plan) {
    const std::vector<std::string> keys = launcher_env.keys_in_order();
    for (auto& w : plan.workers) {
        std::map<std::string, std::string> last;  // upper-cased key -> the value written last
        for (const auto& k : keys) {
            auto added = w.env.find(k);
            last[to_upper(k)] = added != w.env.end() ? added->second : *launcher_env.get(k);
        }
        for (const auto& [k, v] : w.env) {
            if (!launcher_env.contains(k)) {
                last[to_upper(k)] = v;  // an addition: after the environment's own keys
            }
        }
        for (const auto& [upper, v] : last) {
            auto added = w.env.find(upper);
            const auto seen = added != w.env.end() ? std::optional<std::string>(added->second) : launcher_env.get(upper);
            if (seen != v) {
                w.env[upper] = v;
            }
        }
    }
}

}  // namespace

const char* launcher_name(LauncherKind kind) {
    switch (kind) {
    case LauncherKind::simple: return "simple (one process)";
    case LauncherKind::multi_cpu: return "multi-CPU (torchrun-style workers)";
    case LauncherKind::torchrun: return "torchrun-style workers";
    case LauncherKind::mpirun: return "mpirun";
    case LauncherKind::deepspeed: return "deepspeed";
    }
    return "?";
}

bool cuda_p2p_ib_supported(const std::vector<std::string>& gpu_names, const std::string& driver_version) {
    if (gpu_names.size() < 2) {
        return true;
    }
    bool rtx40 = std::any_of(gpu_names.begin(), gpu_names.end(),
                             [](const std::string& n) { return n.find("RTX 40") != std::string::npos; });
    if (!rtx40) {
        return true;
    }
    // Compare dotted versions numerically against 550.40.07.
    const std::vector<std::int64_t> fixed = {550, 40, 7};
    std::vector<std::int64_t> have;
    for (const auto& part : split(driver_version, '.')) {
        have.push_back(parse_python_int(part).value_or(0));
    }
    return !std::lexicographical_compare(have.begin(), have.end(), fixed.begin(), fixed.end());
}

bool running_under_mpi(const Environment& env) {
    return env.contains("OMPI_COMM_WORLD_SIZE") || env.contains("PMI_SIZE") || env.contains("MV2_COMM_WORLD_SIZE");
}

LaunchPlan plan_launch(const LaunchSettings& s, const Resolution& r, const HostFacts& facts) {
    LaunchPlan plan;
    const bool cpu = s.truthy("cpu");
    const bool deepspeed = s.truthy("use_deepspeed") && !cpu;
    const bool gpu_workers = !cpu && (s.truthy("use_fsdp") || s.truthy("use_megatron_lm") || s.truthy("multi_gpu"));
    if (s.truthy("tpu") && !cpu && !deepspeed && !gpu_workers) {
        throw Error(
            "TPU launches (--tpu or distributed_type XLA) are not supported by this native launcher; use the Python "
            "package's `accelerate launch` on TPU VMs");
    }
    if (deepspeed && s.get_int("num_machines").value_or(1) > 1 &&
        s.str("deepspeed_multinode_launcher") != "standard") {
        throw Error(fmt::format(
            "multi-machine DeepSpeed with deepspeed_multinode_launcher {} goes through the `deepspeed` CLI, which "
            "this native launcher does not drive yet; use deepspeed_multinode_launcher standard (torchrun-style "
            "workers on every machine)",
            s.is_none("deepspeed_multinode_launcher") ? std::string("pdsh") : s.str("deepspeed_multinode_launcher")));
    }
    if (deepspeed || gpu_workers) {
        plan.kind = LauncherKind::torchrun;
        Topology t = plan_topology(s, facts, plan);
        EnvMap common = deepspeed ? deepspeed_env(s, r, facts) : multi_gpu_env(s);
        // Any spelling counts: an inherited omp_num_threads reaches torchrun upper-cased
        // (see add_uppercased_duplicates), so torchrun finds the variable set.
        const bool omp_inherited = std::any_of(facts.env.vars().begin(), facts.env.vars().end(),
                                               [](const auto& kv) { return to_upper(kv.first) == "OMP_NUM_THREADS"; });
        if (deepspeed && !omp_inherited && t.nproc > 1) {
            // torchrun's own default when nproc > 1 (accelerate sets OMP_NUM_THREADS itself on
            // the other torchrun paths), with its banner (torchrun-contract section 2, 1.13 form).
            common["OMP_NUM_THREADS"] = "1";
            plan.agent_warning =
                "WARNING:torch.distributed.run:\n*****************************************\nSetting OMP_NUM_THREADS "
                "environment variable for each process to be 1 in default, to avoid your system being overloaded, "
                "please further tune the variable for optimal performance in your application as needed. \n"
                "*****************************************\n";
        }
        // accelerate's PartialState refuses RTX 40xx multi-GPU runs on old drivers unless
        // these are set, so upstream's launcher sets them; so do we.
        if (facts.p2p_ib_supported && !facts.p2p_ib_supported()) {
            bool added = false;
            for (const char* var : {"NCCL_P2P_DISABLE", "NCCL_IB_DISABLE"}) {
                if (!facts.env.contains(var)) {
                    common[var] = "1";
                    added = true;
                }
            }
            if (added) {
                plan.notes.push_back(
                    "Using RTX 4000 series which doesn't support faster communication speedups. Ensuring P2P and IB "
                    "communications are disabled.");
            }
        }
        add_torchrun_workers(s, facts, t, common, script_argv(s, facts.python, true), plan);
        add_uppercased_duplicates(facts.env, plan);
        return plan;
    }
    if (!s.is_none("mpirun_hostfile")) {
        return plan_mpirun(s, facts);
    }
    const bool cpu_job = cpu || s.truthy("use_cpu") || r.distributed_type == "MULTI_CPU";
    const auto n = s.get_int("num_processes").value_or(0);
    if (cpu_job && n > 1 && !running_under_mpi(facts.env)) {
        // Upstream starts one process and expects MPI/SLURM to start the rest;
        // we start all of them, as torchrun would.
        plan.kind = LauncherKind::multi_cpu;
        Topology t = plan_topology(s, facts, plan);
        EnvMap common = multi_gpu_env(s, false);
        common["ACCELERATE_USE_CPU"] = "True";
        add_torchrun_workers(s, facts, t, common, script_argv(s, facts.python, true), plan);
        return plan;
    }
    plan.kind = LauncherKind::simple;
    WorkerSpec w;
    w.argv = script_argv(s, facts.python, false);
    w.env = simple_env(s);
    plan.workers.push_back(std::move(w));
    return plan;
}

}  // namespace acc::launch
