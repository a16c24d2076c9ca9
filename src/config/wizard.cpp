#include "acc/config/wizard.hpp"

#include <functional>
#include <map>

#include <fmt/format.h>

#include "acc/config/config_file.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::config {

namespace {

using Convert = std::function<std::optional<Value>(const std::string&)>;

const char* const k_yes_no_error = "Please enter yes or no.";
const char* const k_int_error = "Please enter an integer.";

// upstream's _ask_field: Enter gives the default (unconverted); a bad answer is asked again.
// Upstream repeats some prompts silently; we always say why.
Value ask_field(Prompter& p, const std::string& prompt, const Convert& convert, std::optional<Value> fallback,
                const std::string& error_message) {
    while (true) {
        std::string answer = p.field(prompt);
        if (fallback && answer.empty()) {
            return *fallback;
        }
        if (!convert) {
            return Value::string(answer);
        }
        if (auto v = convert(answer)) {
            return *v;
        }
        p.say(error_message);
    }
}

Value ask_yes_no(Prompter& p, const std::string& prompt, bool fallback) {
    return ask_field(
        p, prompt,
        [](const std::string& s) -> std::optional<Value> {
            if (auto b = parse_yes_no(s)) {
                return Value::boolean(*b);
            }
            return std::nullopt;
        },
        Value::boolean(fallback), k_yes_no_error);
}

bool yes(Prompter& p, const std::string& prompt, bool fallback = false) {
    return ask_yes_no(p, prompt, fallback).as_bool();
}

Convert int_converter() {
    return [](const std::string& s) -> std::optional<Value> {
        if (auto i = parse_python_int(s)) {
            return Value::integer(*i);
        }
        return std::nullopt;
    };
}

Convert float_converter() {
    return [](const std::string& s) -> std::optional<Value> {
        if (auto d = parse_python_float(trim(s))) {
            return Value::real(*d);
        }
        return std::nullopt;
    };
}

Convert str_converter() {
    return [](const std::string& s) -> std::optional<Value> { return Value::string(s); };
}

Convert lower_converter() {
    return [](const std::string& s) -> std::optional<Value> { return Value::string(to_lower(s)); };
}

std::int64_t ask_int(Prompter& p, const std::string& prompt, std::optional<std::int64_t> fallback) {
    return ask_field(p, prompt, int_converter(),
                     fallback ? std::optional<Value>(Value::integer(*fallback)) : std::nullopt, k_int_error)
        .as_int();
}

Value ask_float(Prompter& p, const std::string& prompt, double fallback) {
    return ask_field(p, prompt, float_converter(), Value::real(fallback), "Please enter a number.");
}

std::string ask_text(Prompter& p, const std::string& prompt, std::optional<std::string> fallback = std::nullopt) {
    return ask_field(p, prompt, str_converter(),
                     fallback ? std::optional<Value>(Value::string(*fallback)) : std::nullopt, "")
        .as_string();
}

int ask_menu(Prompter& p, const std::string& prompt, const std::vector<std::string>& choices, int fallback = 0) {
    return p.menu(prompt, choices, fallback);
}

std::string pick(Prompter& p, const std::string& prompt, const std::vector<std::string>& choices, int fallback = 0) {
    return choices.at(static_cast<size_t>(ask_menu(p, prompt, choices, fallback)));
}

class MapBuilder {
  public:
    void set(const std::string& key, Value v) {
        for (auto& [k, existing] : m_entries) {
            if (k == key) {
                existing = std::move(v);
                return;
            }
        }
        m_entries.emplace_back(key, std::move(v));
    }
    const Value* get(const std::string& key) const {
        for (const auto& [k, v] : m_entries) {
            if (k == key) {
                return &v;
            }
        }
        return nullptr;
    }
    Value build() const { return Value::map(m_entries); }

  private:
    std::vector<std::pair<std::string, Value>> m_entries;
};

const std::vector<std::string> k_dynamo_backends = {
    "EAGER",       "AOT_EAGER", "INDUCTOR", "AOT_TS_NVFUSER",          "NVPRIMS_NVFUSER",      "CUDAGRAPHS", "OFI",
    "FX2TRT",      "ONNXRT",    "TENSORRT", "AOT_TORCHXLA_TRACE_ONCE", "TORHCHXLA_TRACE_ONCE", "TVM"};

Value ask_dynamo(Prompter& p) {
    MapBuilder dynamo;
    if (!yes(p, "Do you wish to optimize your script with torch dynamo?[yes/NO]:")) {
        return Value::map({});
    }
    std::vector<std::string> labels;
    for (const auto& b : k_dynamo_backends) {
        labels.push_back(to_lower(b));
    }
    int backend = ask_menu(p, "Which dynamo backend would you like to use?", labels, 2);
    // Upstream's list misspells TORCHXLA_TRACE_ONCE and crashes on it; we store the enum's real name.
    dynamo.set("dynamo_backend", Value::string(backend == 11 ? "TORCHXLA_TRACE_ONCE" : k_dynamo_backends[backend]));
    if (yes(p, "Do you want to customize the defaults sent to torch.compile? [yes/NO]: ")) {
        dynamo.set("dynamo_mode",
                   Value::string(pick(p, "Which mode do you want to use?", {"default", "reduce-overhead", "max-autotune"})));
        dynamo.set("dynamo_use_fullgraph",
                   ask_yes_no(p, "Do you want the fullgraph mode or it is ok to break model into several subgraphs? "
                                 "[yes/NO]: ",
                              false));
        dynamo.set("dynamo_use_dynamic", ask_yes_no(p, "Do you want to enable dynamic shape tracing? [yes/NO]: ", false));
        dynamo.set("dynamo_use_regional_compilation",
                   ask_yes_no(p, "Do you want to enable regional compilation? [yes/NO]: ", false));
    }
    return dynamo.build();
}

const std::vector<std::string> k_multi = {"MULTI_CPU", "MULTI_XPU",  "MULTI_HPU",  "MULTI_GPU",   "MULTI_NPU",
                                          "MULTI_MLU", "MULTI_SDAA", "MULTI_MUSA", "MULTI_NEURON"};

bool in(const std::string& x, const std::vector<std::string>& set) {
    return std::find(set.begin(), set.end(), x) != set.end();
}

bool is_multi(const std::string& dt) { return in(dt, k_multi); }
bool is_accelerator(const std::string& dt) { return is_multi(dt) && dt != "MULTI_CPU"; }

Value ask_deepspeed(Prompter& p, std::int64_t num_machines, bool& uses_json_file) {
    MapBuilder ds;
    uses_json_file = yes(p, "Do you want to specify a json file to a DeepSpeed config? [yes/NO]: ");
    if (uses_json_file) {
        ds.set("deepspeed_config_file",
               Value::string(ask_text(p, "Please enter the path to the json DeepSpeed config file: ", "none")));
    } else {
        int stage = ask_menu(p, "What should be your DeepSpeed's ZeRO optimization stage?", {"0", "1", "2", "3"}, 2);
        ds.set("zero_stage", Value::integer(stage));
        const std::vector<std::string> devices = {"none", "cpu", "nvme"};
        if (stage >= 2) {
            std::string opt = pick(p, "Where to offload optimizer states?", devices);
            ds.set("offload_optimizer_device", Value::string(opt));
            std::string param = pick(p, "Where to offload parameters?", devices);
            ds.set("offload_param_device", Value::string(param));
            if (param == "nvme") {
                ds.set("offload_param_nvme_path",
                       Value::string(ask_text(p, "Nvme Path to offload parameters?", "/nvme")));
            }
            if (opt == "nvme") {
                ds.set("offload_optimizer_nvme_path",
                       Value::string(ask_text(p, "Nvme Path to offload optimizer states?", "/nvme")));
            }
        }
        ds.set("gradient_accumulation_steps",
               Value::integer(ask_int(p, "How many gradient accumulation steps you're passing in your script? [1]: ", 1)));
        if (yes(p, "Do you want to use gradient clipping? [yes/NO]: ")) {
            ds.set("gradient_clipping", ask_float(p, "What is the gradient clipping value? [1.0]: ", 1.0));
        }
        if (stage == 3) {
            ds.set("zero3_save_16bit_model",
                   ask_yes_no(p, "Do you want to save 16-bit model weights when using ZeRO Stage-3? [yes/NO]: ", false));
        }
    }
    ds.set("zero3_init_flag", ask_yes_no(p,
                                         "Do you want to enable `deepspeed.zero.Init` when using ZeRO Stage-3 for "
                                         "constructing massive models? [yes/NO]: ",
                                         false));
    if (yes(p, "Do you want to enable Mixture-of-Experts training (MoE)? [yes/NO]: ")) {
        ds.set("deepspeed_moe_layer_cls_names",
               Value::string(ask_text(p, "Specify the comma-separated list of transformers MoE layer class names "
                                         "(case-sensitive), e.g :  `MixtralSparseMoeBlock`, `Qwen2MoeSparseMoeBlock`, "
                                         "`JetMoEAttention,JetMoEBlock` ... : ")));
    }
    if (num_machines > 1) {
        const std::vector<std::string> launchers = {"pdsh", "standard", "openmpi", "mvapich", "mpich", "nossh", "slurm"};
        std::string launcher = pick(p, "Which Type of launcher do you want to use?", launchers);
        ds.set("deepspeed_multinode_launcher", Value::string(launcher));
        if (launcher != "standard") {
            ds.set("deepspeed_hostfile",
                   Value::string(ask_text(
                       p, "DeepSpeed configures multi-node compute resources with hostfile. Each row is of the format "
                          "`hostname slots=[num_gpus]`, e.g., `localhost slots=2`; for more information please refer "
                          "official [documentation](https://www.deepspeed.ai/getting-started/"
                          "#resource-configuration-multi-node). Please specify the location of hostfile: ")));
            if (yes(p, "Do you want to specify exclusion filter string? [yes/NO]: ")) {
                ds.set("deepspeed_exclusion_filter", Value::string(ask_text(p, "DeepSpeed exclusion filter string: ")));
            }
            if (yes(p, "Do you want to specify inclusion filter string? [yes/NO]: ")) {
                ds.set("deepspeed_inclusion_filter", Value::string(ask_text(p, "DeepSpeed inclusion filter string: ")));
            }
        }
    }
    return ds.build();
}

Value ask_fsdp(Prompter& p) {
    MapBuilder f;
    int version = ask_menu(p, "What should be your FSDP version? [2]: ", {"1", "2"}, 1) + 1;
    f.set("fsdp_version", Value::integer(version));
    if (version == 1) {
        f.set("fsdp_reshard_after_forward",
              Value::string(pick(p, "What should be your sharding strategy?",
                                 {"FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD", "HYBRID_SHARD_ZERO2"})));
    } else {
        f.set("fsdp_reshard_after_forward",
              ask_yes_no(p, "Do you want to enable resharding after forward? [YES/no]: ", true));
    }
    f.set("fsdp_offload_params",
          ask_yes_no(p, "Do you want to offload parameters and gradients to CPU? [yes/NO]: ", false));
    std::string wrap = pick(p, "What should be your auto wrap policy?",
                            {"TRANSFORMER_BASED_WRAP", "SIZE_BASED_WRAP", "NO_WRAP"});
    f.set("fsdp_auto_wrap_policy", Value::string(wrap));
    if (wrap == "TRANSFORMER_BASED_WRAP") {
        if (!yes(p, "Do you want to use the model's `_no_split_modules` to wrap. Only applicable for \xF0\x9F\xA4\x97 "
                    "Transformers [yes/NO]: ")) {
            f.set("fsdp_transformer_layer_cls_to_wrap",
                  Value::string(ask_text(p, "Specify the comma-separated list of transformer layer class names "
                                            "(case-sensitive) to wrap ,e.g, :`BertLayer`, `GPTJBlock`, `T5Block`, "
                                            "`BertLayer,BertEmbeddings,BertSelfOutput` ...? : ")));
        }
    } else if (wrap == "SIZE_BASED_WRAP") {
        f.set("fsdp_min_num_params",
              Value::integer(ask_int(p,
                                     "What should be your FSDP's minimum number of parameters for Default Auto "
                                     "Wrapping Policy? [1e8]: ",
                                     100000000)));
    }
    if (version == 1) {
        f.set("fsdp_backward_prefetch", Value::string(pick(p, "What should be your FSDP's backward prefetch policy?",
                                                           {"BACKWARD_PRE", "BACKWARD_POST", "NO_PREFETCH"})));
    }
    f.set("fsdp_state_dict_type",
          Value::string(pick(p, "What should be your FSDP's state dict type?",
                             version == 1 ? std::vector<std::string>{"FULL_STATE_DICT", "LOCAL_STATE_DICT",
                                                                     "SHARDED_STATE_DICT"}
                                          : std::vector<std::string>{"SHARDED_STATE_DICT", "FULL_STATE_DICT"})));
    if (version == 1) {
        f.set("fsdp_forward_prefetch",
              ask_yes_no(p, "Do you want to enable FSDP's forward prefetch policy? [yes/NO]: ", false));
        f.set("fsdp_use_orig_params",
              ask_yes_no(p, "Do you want to enable FSDP's `use_orig_params` feature? [YES/no]: ", true));
    }
    Value ram = ask_yes_no(p,
                           "Do you want to enable CPU RAM efficient model loading? Only applicable for \xF0\x9F\xA4\x97 "
                           "Transformers models. [YES/no]: ",
                           true);
    f.set("fsdp_cpu_ram_efficient_loading", ram);
    if (version == 1) {
        f.set("fsdp_sync_module_states",
              ram.as_bool() ? Value::boolean(true)
                            : ask_yes_no(p,
                                         "Do you want each individually wrapped FSDP unit to broadcast module "
                                         "parameters from rank 0 at the start? [YES/no]: ",
                                         true));
    }
    f.set("fsdp_activation_checkpointing",
          ask_yes_no(p, "Do you want to enable FSDP activation checkpointing? [yes/NO]: ", false));
    return f.build();
}

Value ask_parallelism(Prompter& p) {
    MapBuilder pc;
    const std::string prefix = "parallelism_config_";
    pc.set(prefix + "dp_replicate_size",
           Value::integer(ask_int(p, "What is the data parallelism replicate size? [1]: ", 1)));
    pc.set(prefix + "dp_shard_size", Value::integer(ask_int(p, "What is the FSDP shard size? [1]: ", 1)));
    pc.set(prefix + "tp_size", Value::integer(ask_int(p, "What is the tensor parallelism size? [1]: ", 1)));
    std::int64_t cp = ask_int(p, "What is the context parallelism size? [1]: ", 1);
    pc.set(prefix + "cp_size", Value::integer(cp));
    if (cp > 1) {
        pc.set(prefix + "cp_comm_strategy",
               Value::string(pick(p, "What is the compute parallelism communication strategy?",
                                  {"allgather", "alltoall"})));
    }
    return pc.build();
}

Value ask_megatron(Prompter& p) {
    MapBuilder m;
    const std::string prefix = "megatron_lm_";
    std::int64_t tp = ask_int(p, "What is the Tensor Parallelism degree/size? [1]:", 1);
    m.set(prefix + "tp_degree", Value::integer(tp));
    if (tp > 1) {
        m.set(prefix + "sequence_parallelism",
              ask_yes_no(p, "Do you want to enable Sequence Parallelism? [YES/no]: ", true));
    }
    std::int64_t pp = ask_int(p, "What is the Pipeline Parallelism degree/size? [1]:", 1);
    m.set(prefix + "pp_degree", Value::integer(pp));
    if (pp > 1) {
        m.set(prefix + "num_micro_batches", Value::integer(ask_int(p, "What is the number of micro-batches? [1]:", 1)));
    }
    m.set(prefix + "recompute_activations",
          ask_yes_no(p, "Do you want to enable selective activation recomputation? [YES/no]: ", true));
    m.set(prefix + "use_distributed_optimizer",
          ask_yes_no(p,
                     "Do you want to use distributed optimizer which shards optimizer state and gradients across data "
                     "parallel ranks? [YES/no]: ",
                     true));
    m.set(prefix + "gradient_clipping",
          ask_float(p, "What is the gradient clipping value based on global L2 Norm (0 to disable)? [1.0]: ", 1.0));
    return m.build();
}

Value ask_fp8(Prompter& p) {
    MapBuilder f;
    static const std::vector<std::string> backends = {"AO", "TE", "MSAMP"};
    std::string backend = backends[static_cast<size_t>(ask_menu(p, "Which FP8 backend do you want to use?", {"ao", "te", "msamp"}))];
    f.set("backend", Value::string(backend));
    if (backend == "TE") {
        f.set("use_autocast_during_eval",
              ask_yes_no(p,
                         "Do you want to use FP8 autocast during eval mode? Generally better metrics are found when "
                         "this is disabled [yes/NO]: ",
                         false));
        f.set("margin", Value::integer(ask_int(p, "What margin should be used for gradient scaling? [0]: ", 0)));
        f.set("interval",
              Value::integer(ask_int(
                  p, "What interval should be used for how often the scaling factor is recomputed? [1]: ", 1)));
        f.set("fp8_format", Value::string(pick(p, "Which weight format should be used?", {"HYBRID", "E4M3", "E5M2"})));
        f.set("amax_history_length",
              Value::integer(ask_int(
                  p, "What length of history should be used for the amax scaling factor computation? [1024]: ", 1024)));
        f.set("amax_compute_algorithm",
              Value::string(pick(p, "Which algorithm should be used for the amax scaling factor computation?",
                                 {"max", "most_recent"})));
        std::vector<Value> precision(3, Value::boolean(false));
        if (yes(p, "Do you want to execute `fprop`, `dgrad`, and `wgrad` GEMMS in higher precision? [yes/NO]: ")) {
            precision[0] = ask_yes_no(p, "Should `fprop` be executed in higher precision? [yes/NO]: ", false);
            precision[1] = ask_yes_no(p, "Should `dgrad` be executed in higher precision? [yes/NO]: ", false);
            precision[2] = ask_yes_no(p, "Should `wgrad` be executed in higher precision? [yes/NO]: ", false);
        }
        f.set("override_linear_precision", Value::list(precision));
    } else if (backend == "MSAMP") {
        f.set("optimization_level", Value::string(pick(p, "Which optimization level should be used?", {"O1", "O2"}, 1)));
    } else {
        f.set("enable_fsdp_float8_all_gather",
              ask_yes_no(p,
                         "Do you want to enable FSDP2 float8 all gather? This is recommended for better performance "
                         "if using FSDP2. [YES/no]: ",
                         true));
        f.set("pad_inner_dim",
              ask_yes_no(p,
                         "Do you want to pad the inner dimension of weight matrices before float8 matmuls? This is "
                         "required for _scaled_mm which has strict alignment requirements. Note: padding may cause "
                         "memory spikes. [YES/no]: ",
                         true));
    }
    return f.build();
}

// os.path.expanduser: `~` is $HOME, `~user` that user's home; the home's trailing
// slashes go (HOME=/ and ~/h give /h), and an unknown user leaves the path as it is.
std::string expand_user(const std::string& path, const WizardContext& ctx) {
    if (path.empty() || path[0] != '~') {
        return path;
    }
    const size_t slash = path.find('/');
    const size_t name_end = slash == std::string::npos ? path.size() : slash;
    std::optional<std::string> home;
    if (name_end == 1) {
        home = ctx.env.get("HOME");
        if (!home && ctx.user_home) {
            home = ctx.user_home("");  // no HOME: the password database's, as Python
        }
    } else if (ctx.user_home) {
        home = ctx.user_home(path.substr(1, name_end - 1));
    }
    if (!home) {
        return path;
    }
    std::string h = *home;
    while (!h.empty() && h.back() == '/') {
        h.pop_back();
    }
    const std::string expanded = h + path.substr(name_end);
    return expanded.empty() ? "/" : expanded;
}

std::string abspath(const std::string& path, const std::string& cwd) {
    std::string joined = !path.empty() && path[0] == '/' ? path : (cwd == "/" ? "" : cwd) + "/" + path;
    // os.path.normpath
    std::vector<std::string> parts;
    for (const auto& part : split(joined, '/')) {
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            if (!parts.empty()) {
                parts.pop_back();
            }
            continue;
        }
        parts.push_back(part);
    }
    // POSIX lets exactly two leading slashes mean something else, so normpath keeps them.
    const bool two = joined.starts_with("//") && !joined.starts_with("///");
    return (two ? "//" : "/") + join(parts, "/");
}

Value run_cluster(Prompter& p, const WizardContext& ctx) {
    static const std::vector<std::string> types = {"NO",        "MULTI_CPU",  "MULTI_XPU",  "MULTI_HPU",
                                                   "MULTI_GPU", "MULTI_NPU",  "MULTI_MLU",  "MULTI_SDAA",
                                                   "MULTI_MUSA", "MULTI_NEURON", "XLA"};
    std::string dt = types[static_cast<size_t>(ask_menu(
        p, "Which type of machine are you using?",
        {"No distributed training", "multi-CPU", "multi-XPU", "multi-HPU", "multi-GPU", "multi-NPU", "multi-MLU",
         "multi-SDAA", "multi-MUSA", "multi-NEURON", "TPU"}))];
    std::int64_t machine_rank = 0, num_machines = 1, num_processes = 1;
    Value gpu_ids, main_process_ip, main_process_port;
    std::string rdzv_backend = "static";
    bool same_network = true;
    bool debug = false;

    if (is_multi(dt)) {
        num_machines = ask_int(
            p, "How many different machines will you use (use more than 1 for multi-node training)? [1]: ", 1);
        if (num_machines > 1) {
            std::vector<std::string> ranks;
            for (std::int64_t i = 0; i < num_machines && i < 100000; ++i) {
                ranks.push_back(std::to_string(i));
            }
            machine_rank = ask_menu(p, "What is the rank of this machine?", ranks);
            main_process_ip = Value::string(
                ask_text(p, "What is the IP address of the machine that will host the main process? "));
            main_process_port =
                Value::integer(ask_int(p, "What is the port you will use to communicate with the main process? ",
                                       std::nullopt));
            same_network = yes(p,
                               "Are all the machines on the same local network? Answer `no` if nodes are on the cloud "
                               "and/or on different network hosts [YES/no]: ",
                               true);
            if (!same_network) {
                rdzv_backend = ask_text(p, "What rendezvous backend will you use? ('static', 'c10d', ...): ", "static");
            }
        }
        debug = yes(p,
                    "Should distributed operations be checked while running for errors? This can avoid timeout issues "
                    "but will be slower. [yes/NO]: ");
    }

    bool use_cpu = false;
    if (dt == "NO") {
        use_cpu = yes(p,
                      "Do you want to run your training on CPU only (even if a GPU / Apple Silicon / Ascend NPU device "
                      "is available)? [yes/NO]:");
    } else if (dt == "MULTI_CPU") {
        use_cpu = true;
    }

    MapBuilder mpirun;
    if (dt == "MULTI_CPU" && yes(p, "Do you want accelerate to launch mpirun? [yes/NO]: ")) {
        std::string hostfile =
            ask_text(p, "Please enter the path to the hostfile to use with mpirun [~/hostfile]: ", "~/hostfile");
        mpirun.set("mpirun_hostfile", Value::string(expand_user(trim(hostfile), ctx)));
    }

    Value dynamo = ask_dynamo(p);
    bool use_dynamo = !dynamo.entries().empty();

    Value deepspeed = Value::map({});
    bool ds_json = false;
    if (is_accelerator(dt) || dt == "NO") {
        if (yes(p, "Do you want to use DeepSpeed? [yes/NO]: ")) {
            if (dt == "MULTI_NEURON") {
                throw ConfigError("DeepSpeed is not supported on Neuron devices.");
            }
            dt = "DEEPSPEED";
        }
        if (dt == "DEEPSPEED") {
            deepspeed = ask_deepspeed(p, num_machines, ds_json);
        }
    }

    Value fsdp = Value::map({});
    if (is_accelerator(dt)) {
        if (yes(p, "Do you want to use FullyShardedDataParallel? [yes/NO]: ")) {
            if (dt == "MULTI_NEURON") {
                throw ConfigError("FSDP is not currently supported on Neuron devices.");
            }
            dt = "FSDP";
        }
    }
    if (dt == "FSDP") {
        fsdp = ask_fsdp(p);
    }

    Value parallelism = Value::map({});
    const Value* fsdp_version = fsdp.find("fsdp_version");
    if (fsdp_version && fsdp_version->as_int() == 2 &&
        yes(p, "Do you want to use the parallelism config? [yes/NO]: ")) {
        parallelism = ask_parallelism(p);
    }

    Value megatron = Value::map({});
    if (dt == "MULTI_GPU") {
        if (yes(p, "Do you want to use Megatron-LM ? [yes/NO]: ")) {
            dt = "MEGATRON_LM";
        }
        if (dt == "MEGATRON_LM") {
            megatron = ask_megatron(p);
        }
    }

    if (is_multi(dt) || dt == "XLA") {
        static const std::map<std::string, std::string> unit = {
            {"MULTI_CPU", "processes"}, {"MULTI_NEURON", "NEURON cores"}, {"XLA", "XLA(s)"},
            {"MULTI_GPU", "GPU(s)"},    {"MULTI_XPU", "XPU(s)"},          {"MULTI_HPU", "HPU(s)"},
            {"MULTI_NPU", "NPU(s)"},    {"MULTI_MLU", "MLU(s)"},          {"MULTI_SDAA", "SDAA(s)"},
            {"MULTI_MUSA", "MUSA(s)"}};
        num_processes = ask_int(p, fmt::format("How many {} should be used for distributed training? [1]:", unit.at(dt)), 1);
    } else if (dt == "FSDP" || dt == "DEEPSPEED" || dt == "MEGATRON_LM") {
        num_processes = ask_int(p, "How many GPU(s) should be used for distributed training? [1]:", 1);
    }

    if (dt == "MULTI_GPU" && num_machines == 1 && num_processes == 1) {
        throw ConfigError(
            "Specified distributed type DistributedType.MULTI_GPU but only using 1 GPU on a single machine. Please "
            "select `No distributed training` for the type of machine you are using.");
    }

    if ((is_accelerator(dt) || dt == "NO") && !use_cpu) {
        gpu_ids = Value::string(ask_text(
            p, "What GPU(s) (by id) should be used for training on this machine as a comma-separated list? [all]:",
            "all"));
    }
    bool cpu_affinity = false;
    if ((dt == "NO" || dt == "MULTI_GPU") && !use_cpu) {
        cpu_affinity = yes(p,
                           "Would you like to enable numa efficiency? (Currently only supported on NVIDIA hardware). "
                           "[yes/NO]: ");
    }

    Value fp8 = Value::map({});
    Value mixed_precision;
    std::string main_training_function = "main";
    bool tpu_use_cluster = false;
    Value tpu_name, tpu_zone, tpu_use_sudo = Value::boolean(false), command_file, commands, tpu_vm;
    Value tpu_env = Value::list({});
    if (dt == "XLA") {
        mixed_precision = Value::string("no");
        main_training_function = ask_text(
            p,
            "What is the name of the function in your script that should be launched in all parallel scripts? [main]: ",
            "main");
        tpu_use_cluster = yes(p, "Are you using a TPU cluster? [yes/NO]: ");
        if (tpu_use_cluster) {
            tpu_name = Value::string(ask_text(p, "What is the name of your TPU cluster? "));
            tpu_zone = Value::string(ask_text(p, "What is the zone of your TPU cluster? "));
            tpu_use_sudo = ask_field(p, "To run a python script in a TPU pod, should `sudo` be used? [yes/NO]: ", nullptr,
                                     Value::boolean(false), "");
            if (yes(p, "Do you have code you wish to run on startup in each pod? [yes/NO]: ")) {
                if (yes(p, "Is this code located in a bash script? [yes/NO]: ")) {
                    command_file = Value::string(abspath(ask_text(p, "What is the path to your bash script? "), ctx.cwd));
                } else {
                    p.say("Please enter each command separately you wish to run on startup in each pod.");
                    std::vector<Value> list;
                    do {
                        list.push_back(Value::string(ask_text(p, "Please enter a single command to be ran ")));
                    } while (yes(p, "Do you wish to add another command? [yes/NO]: "));
                    commands = Value::list(list);
                }
            }
            std::vector<Value> vms, envs;
            for (const auto& s : split(ask_text(p,
                                                "If not using an instance group, what are the names of the Compute VM "
                                                "instances to be used, separated by a comma: ",
                                                ""),
                                       ',')) {
                vms.push_back(Value::string(s));
            }
            for (const auto& s : split(
                     ask_text(p, "What environment variables do you wish to set in each pod, separated by a comma: ", ""),
                     ',')) {
                envs.push_back(Value::string(s));
            }
            tpu_vm = Value::list(vms);
            tpu_env = Value::list(envs);
        }
    } else if (!(dt == "DEEPSPEED" && ds_json)) {
        static const std::vector<std::string> precisions = {"no", "fp16", "bf16", "fp8"};
        std::string mp = pick(p, "Do you wish to use mixed precision?", precisions);
        mixed_precision = Value::string(mp);
        if (mp == "fp8") {
            fp8 = ask_fp8(p);
        }
    }
    if (use_dynamo && mixed_precision == Value::string("no") && !use_cpu) {
        p.say("Torch dynamo used without mixed precision requires TF32 to be efficient. Accelerate will enable it by "
              "default when launching your scripts.");
    }

    return Value::map({
        {"compute_environment", Value::string("LOCAL_MACHINE")},
        {"distributed_type", Value::string(dt)},
        {"mixed_precision", mixed_precision},
        {"use_cpu", Value::boolean(use_cpu)},
        {"debug", Value::boolean(debug)},
        {"num_processes", Value::integer(num_processes)},
        {"machine_rank", Value::integer(machine_rank)},
        {"num_machines", Value::integer(num_machines)},
        {"gpu_ids", gpu_ids},
        {"main_process_ip", main_process_ip},
        {"main_process_port", main_process_port},
        {"rdzv_backend", Value::string(rdzv_backend)},
        {"same_network", Value::boolean(same_network)},
        {"main_training_function", Value::string(main_training_function)},
        {"enable_cpu_affinity", Value::boolean(cpu_affinity)},
        {"fp8_config", fp8},
        {"deepspeed_config", deepspeed},
        {"fsdp_config", fsdp},
        {"parallelism_config", parallelism},
        {"megatron_lm_config", megatron},
        {"mpirun_config", mpirun.build()},
        {"downcast_bf16", Value::string("no")},
        {"tpu_name", tpu_name},
        {"tpu_zone", tpu_zone},
        {"tpu_use_cluster", Value::boolean(tpu_use_cluster)},
        {"tpu_use_sudo", tpu_use_sudo},
        {"command_file", command_file},
        {"commands", commands},
        {"tpu_vm", tpu_vm},
        {"tpu_env", tpu_env},
        {"dynamo_config", dynamo},
    });
}

Value run_sagemaker(Prompter& p) {
    Value profile;
    int credentials = ask_menu(p, "How do you want to authorize?",
                               {"AWS Profile", "Credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) "});
    if (credentials == 0) {
        profile = Value::string(ask_text(p, "Enter your AWS Profile name: [default] ", "default"));
    } else {
        p.say("Note you will need to provide AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when you launch you training "
              "script with,`accelerate launch --aws_access_key_id XXX --aws_secret_access_key YYY`");
        ask_text(p, "AWS Access Key ID: ");
        ask_text(p, "AWS Secret Access Key: ");
    }
    std::string region = ask_text(p, "Enter your AWS Region: [us-east-1]", "us-east-1");
    std::string role;
    if (ask_menu(p, "Do you already have an IAM Role for executing Amazon SageMaker Training Jobs?",
                 {"Provide IAM Role name", "Create new IAM role using credentials"}) == 0) {
        role = ask_text(p, "Enter your IAM role name: ");
    } else {
        role = "accelerate_sagemaker_execution_role";
        p.say(fmt::format("Accelerate will create an iam role \"{}\" using the provided credentials", role));
        p.say("(this native build does not call AWS: create the role yourself, or run the Python `accelerate config` "
              "once for that step)");
    }
    Value image, inputs, metrics;
    if (yes(p, "Do you want to use custom Docker image? [yes/NO]: ")) {
        image = ask_field(p, "Enter your Docker image: ", lower_converter(), std::nullopt, "");
    }
    if (yes(p, "Do you want to provide SageMaker input channels with data locations? [yes/NO]: ")) {
        inputs = ask_field(
            p, "Enter the path to the SageMaker inputs TSV file with columns (channel_name, data_location): ",
            lower_converter(), std::nullopt, "");
    }
    if (yes(p, "Do you want to enable SageMaker metrics? [yes/NO]: ")) {
        metrics = ask_field(p,
                            "Enter the path to the SageMaker metrics TSV file with columns (metric_name, metric_regex): ",
                            lower_converter(), std::nullopt, "");
    }
    std::string dt = ask_menu(p, "What is the distributed mode?", {"No distributed training", "Data parallelism"}) == 0
                         ? "NO"
                         : "DATA_PARALLEL";
    Value dynamo = ask_dynamo(p);
    Value instance;
    if (dt != "NO") {
        instance = Value::string(pick(p, "Which EC2 instance type you want to use for your training?",
                                      {"ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4dn.24xlarge"}));
    } else {
        instance = ask_field(p, "Which EC2 instance type you want to use for your training?? [ml.p3.2xlarge]:",
                             lower_converter(), Value::string("ml.p3.2xlarge"), "");
    }
    bool debug = false;
    std::int64_t num_machines = 1;
    if (dt != "NO") {
        debug = yes(p,
                    "Should distributed operations be checked while running for errors? This can avoid timeout issues "
                    "but will be slower. [yes/NO]: ");
        num_machines = ask_int(p, "How many machines do you want use? [1]: ", 1);
    }
    std::string mp =
        pick(p, "Do you wish to use FP16 or BF16 (mixed precision)?", {"no", "fp16", "bf16", "fp8"});
    if (!dynamo.entries().empty() && mp == "no") {
        p.say("Torch dynamo used without mixed precision requires TF32 to be efficient. Accelerate will enable it by "
              "default when launching your scripts.");
    }
    return Value::map({
        {"compute_environment", Value::string("AMAZON_SAGEMAKER")},
        {"distributed_type", Value::string(dt)},
        {"mixed_precision", Value::string(mp)},
        {"use_cpu", Value::boolean(false)},
        {"debug", Value::boolean(debug)},
        {"ec2_instance_type", instance},
        {"iam_role_name", Value::string(role)},
        {"image_uri", image},
        {"profile", profile},
        {"region", Value::string(region)},
        {"num_machines", Value::integer(num_machines)},
        {"gpu_ids", Value::string("all")},
        {"base_job_name", Value::string("accelerate-sagemaker-1")},
        {"pytorch_version", Value::string("1.10.2")},
        {"transformers_version", Value::string("4.17.0")},
        {"py_version", Value::string("py38")},
        {"sagemaker_inputs_file", inputs},
        {"sagemaker_metrics_file", metrics},
        {"additional_args", Value::none()},
        {"dynamo_config", dynamo},
        {"enable_cpu_affinity", Value::boolean(false)},
    });
}

}  // namespace

std::optional<bool> parse_yes_no(const std::string& answer) {
    std::string s = to_lower(answer);
    if (s == "yes") {
        return true;
    }
    if (s == "no") {
        return false;
    }
    return std::nullopt;
}

Value run_wizard(Prompter& prompter, const WizardContext& context) {
    int env = prompter.menu("In which compute environment are you running?", {"This machine", "AWS (Amazon SageMaker)"}, 0);
    return env == 0 ? run_cluster(prompter, context) : run_sagemaker(prompter);
}

}  // namespace acc::config
