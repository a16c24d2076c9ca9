#include "acc/cli/launch_flags.hpp"

#include <unordered_map>

namespace acc::cli {

namespace {

const char* const k_hardware = "Hardware Selection Arguments";
const char* const k_resource = "Resource Selection Arguments";
const char* const k_paradigm = "Training Paradigm Arguments";
const char* const k_distributed = "Distributed GPUs";
const char* const k_tpu = "TPU";
const char* const k_deepspeed = "DeepSpeed Arguments";
const char* const k_fsdp = "FSDP Arguments";
const char* const k_megatron = "Megatron-LM Arguments";
const char* const k_fp8 = "FP8 Arguments";
const char* const k_aws = "AWS Arguments";
const char* const k_mpi = "MPI Arguments";
const char* const k_parallelism = "ParallelismConfig Arguments";
const char* const k_native = "Native launcher (extensions of this implementation)";

// Every `--x_y` also answers to `--x-y`, as upstream's parser adds.
std::vector<std::string> with_aliases(std::vector<std::string> names) {
    std::vector<std::string> out;
    for (const auto& n : names) {
        out.push_back(n);
        if (n.rfind("--", 0) == 0 && n.find('_') != std::string::npos) {
            std::string alias = n;
            for (size_t i = 2; i < alias.size(); ++i) {
                if (alias[i] == '_') {
                    alias[i] = '-';
                }
            }
            out.push_back(alias);
        }
    }
    return out;
}

struct Builder {
    std::vector<FlagSpec> flags;
    std::string_view group;

    FlagSpec& add(std::string dest, std::vector<std::string> names, FlagKind kind, ValueType type, Value def,
                  std::string_view help) {
        FlagSpec f;
        f.dest = std::move(dest);
        f.names = with_aliases(std::move(names));
        f.kind = kind;
        f.type = type;
        f.default_value = std::move(def);
        f.group = group;
        f.help = help;
        flags.push_back(std::move(f));
        return flags.back();
    }
    // store_true declared in a group defaults to False, at the top level to None.
    FlagSpec& flag(const std::string& name, std::string_view help) {
        Value def = group.empty() ? Value::none() : Value::boolean(false);
        return add(name.substr(2), {name}, FlagKind::store_true, ValueType::str, def, help);
    }
    FlagSpec& str(const std::string& name, Value def, std::string_view help) {
        return add(name.substr(2), {name}, FlagKind::value, ValueType::str, std::move(def), help);
    }
    FlagSpec& integer(const std::string& name, Value def, std::string_view help) {
        return add(name.substr(2), {name}, FlagKind::value, ValueType::integer, std::move(def), help);
    }
    FlagSpec& real(const std::string& name, Value def, std::string_view help) {
        return add(name.substr(2), {name}, FlagKind::value, ValueType::real, std::move(def), help);
    }
    FlagSpec& py_bool(const std::string& name, Value def, std::string_view help) {
        return add(name.substr(2), {name}, FlagKind::value, ValueType::py_bool, std::move(def), help);
    }
    FlagSpec& choice(const std::string& name, std::vector<std::string> choices, Value def, std::string_view help) {
        auto& f = str(name, std::move(def), help);
        f.choices = std::move(choices);
        return f;
    }
};

std::vector<FlagSpec> build_table() {
    Builder b;
    const Value none;
    auto s = [](const char* v) { return Value::string(v); };
    auto i = [](std::int64_t v) { return Value::integer(v); };

    b.add("help", {"-h", "--help"}, FlagKind::help, ValueType::str, none, "Show this help message and exit.")
        .tracked = false;
    b.str("--config_file", none, "The config file to use for the default values in the launching script.");
    b.add("quiet", {"--quiet", "-q"}, FlagKind::store_true, ValueType::str, none,
          "Silence subprocess errors from the launch stack trace and only show the relevant tracebacks. "
          "(Only applicable to DeepSpeed and single-process configurations)");

    b.group = k_hardware;
    b.flag("--cpu", "Whether or not to force the training on the CPU.");
    b.flag("--multi_gpu", "Whether or not this should launch a distributed GPU training.");
    b.flag("--tpu", "Whether or not this should launch a TPU training.");

    b.group = k_resource;
    b.choice("--mixed_precision", {"no", "fp16", "bf16", "fp8"}, none,
             "Whether or not to use mixed precision training. Choose between FP16, BF16 (bfloat16) or FP8 training.");
    b.integer("--num_processes", none, "The total number of processes to be launched in parallel.");
    b.integer("--num_machines", none, "The total number of machines used in this training.");
    b.integer("--num_cpu_threads_per_process", none,
              "The number of CPU threads per process. Can be tuned for optimal performance.");
    b.flag("--enable_cpu_affinity", "Whether or not CPU affinity and balancing should be enabled. Currently only supported on NVIDIA hardware.");
    b.choice("--dynamo_backend",
             {"no", "eager", "aot_eager", "inductor", "aot_ts_nvfuser", "nvprims_nvfuser", "cudagraphs", "ofi",
              "fx2trt", "onnxrt", "tensorrt", "aot_torchxla_trace_once", "torhchxla_trace_once", "tvm"},
             none, "Choose a backend to optimize your training with dynamo, see more at https://github.com/pytorch/torchdynamo.");
    b.choice("--dynamo_mode", {"default", "reduce-overhead", "max-autotune"}, s("default"),
             "Choose a mode to optimize your training with dynamo.");
    b.flag("--dynamo_use_fullgraph", "Whether to use full graph mode for dynamo or it is ok to break model into several subgraphs");
    b.flag("--dynamo_use_dynamic", "Whether to enable dynamic shape tracing.");
    b.flag("--dynamo_use_regional_compilation", "Whether to enable regional compilation.");

    b.group = k_paradigm;
    b.flag("--use_deepspeed", "Whether to use deepspeed.");
    b.flag("--use_fsdp", "Whether to use fsdp.");
    b.flag("--use_parallelism_config", "Whether to use the parallelism config to configure the N-d distributed training.");
    b.flag("--use_megatron_lm", "Whether to use Megatron-LM.");

    b.group = k_distributed;
    b.str("--gpu_ids", none, "What GPUs (by id) should be used for training on this machine as a comma-separated list");
    b.flag("--same_network", "Whether all machines used for multinode training exist on the same local network.");
    b.integer("--machine_rank", none, "The rank of the machine on which this script is launched.");
    b.str("--main_process_ip", none, "The IP address of the machine of rank 0.");
    b.integer("--main_process_port", none, "The port to use to communicate with the machine of rank 0.");
    b.add("tee", {"-t", "--tee"}, FlagKind::value, ValueType::str, s("0"),
          "Tee std streams into a log file and also to console.");
    b.str("--redirects", s("0"),
          "Redirect std streams into a log file in the log directory (e.g. [-r 3] redirects both stdout+stderr for all "
          "workers, [-r 0:1,1:2] redirects stdout for local rank 0 and stderr for local rank 1).");
    b.str("--log_dir", none, "Base directory to use for log files when using torchrun/torch.distributed.run as launcher.");
    b.str("--role", s("default"), "User-defined role for the workers.");
    b.str("--rdzv_backend", s("static"), "The rendezvous method to use, such as 'static' (the default) or 'c10d'");
    b.str("--rdzv_conf", s(""), "Additional rendezvous configuration (<key1>=<value1>,<key2>=<value2>,...).");
    b.integer("--max_restarts", i(0), "Maximum number of worker group restarts before failing.");
    b.real("--monitor_interval", Value::real(0.1), "Interval, in seconds, to monitor the state of workers.");

    b.group = "";
    b.add("module", {"-m", "--module"}, FlagKind::store_true, ValueType::str, none,
          "Change each process to interpret the launch script as a Python module, executing with the same behavior as 'python -m'.");
    b.flag("--no_python", "Skip prepending the training script with 'python' - just execute it directly. Useful when the script is not a Python script.");

    b.group = k_tpu;
    b.add("tpu_use_cluster", {"--tpu_cluster"}, FlagKind::store_true, ValueType::str, Value::boolean(false),
          "Whether to use a GCP TPU pod for training.");
    b.add("tpu_use_cluster", {"--no_tpu_cluster"}, FlagKind::store_false, ValueType::str, Value::boolean(false),
          "Should not be passed explicitly, this is for internal use only.");
    b.flag("--tpu_use_sudo", "Whether to use `sudo` when running the TPU training script in each pod.");
    b.add("vm", {"--vm"}, FlagKind::append, ValueType::str, none,
          "List of single Compute VM instance names. If not provided we assume usage of instance groups. For TPU pods.")
        .tracked = false;
    b.add("env", {"--env"}, FlagKind::append, ValueType::str, none,
          "List of environment variables to set on the Compute VM instances. For TPU pods.")
        .tracked = false;
    b.str("--main_training_function", none, "The name of the main function to be executed in your script (only for TPU training).");
    b.flag("--downcast_bf16", "Whether when using bf16 precision on TPUs if both float and double tensors are cast to bfloat16 or if double tensors remain as float32.");

    b.group = k_deepspeed;
    b.str("--deepspeed_config_file", none, "DeepSpeed config file.");
    b.integer("--zero_stage", none, "DeepSpeed's ZeRO optimization stage (useful only when `use_deepspeed` flag is passed).");
    b.str("--offload_optimizer_device", none, "Decides where (none|cpu|nvme) to offload optimizer states.");
    b.str("--offload_param_device", none, "Decides where (none|cpu|nvme) to offload parameters.");
    b.str("--offload_optimizer_nvme_path", none, "Decides Nvme Path to offload optimizer states.");
    b.str("--offload_param_nvme_path", none, "Decides Nvme Path to offload parameters.");
    b.integer("--gradient_accumulation_steps", none, "No of gradient_accumulation_steps used in your training script.");
    b.real("--gradient_clipping", none, "gradient clipping value used in your training script.");
    b.str("--zero3_init_flag", none, "Decides Whether (true|false) to enable `deepspeed.zero.Init` for constructing massive models. Only applicable with DeepSpeed ZeRO Stage-3.");
    b.str("--zero3_save_16bit_model", none, "Decides Whether (true|false) to save 16-bit model weights when using ZeRO Stage-3.");
    b.str("--deepspeed_hostfile", none, "DeepSpeed hostfile for configuring multi-node compute resources.");
    b.str("--deepspeed_exclusion_filter", none, "DeepSpeed exclusion filter string when using mutli-node setup.");
    b.str("--deepspeed_inclusion_filter", none, "DeepSpeed inclusion filter string when using mutli-node setup.");
    b.str("--deepspeed_multinode_launcher", none, "DeepSpeed multi-node launcher to use, e.g. `pdsh`, `standard`, `openmpi`, `mvapich`, `mpich`, `slurm`, `nossh`.");
    b.str("--deepspeed_moe_layer_cls_names", none, "comma-separated list of transformer MoE layer class names (case-sensitive) to wrap, e.g, `MixtralSparseMoeBlock`.");

    b.group = k_fsdp;
    b.choice("--fsdp_version", {"1", "2"}, s("1"), "FSDP version to use.");
    b.str("--fsdp_offload_params", s("false"), "Decides Whether (true|false) to offload parameters and gradients to CPU.");
    b.integer("--fsdp_min_num_params", i(100000000), "FSDP's minimum number of parameters for Default Auto Wrapping.");
    b.str("--fsdp_sharding_strategy", s("FULL_SHARD"), "FSDP's sharding strategy. (useful only when `use_fsdp` flag is passed and `fsdp_version=1`).");
    b.str("--fsdp_reshard_after_forward", s("true"), "FSDP's Reshard After Forward Strategy.");
    b.str("--fsdp_auto_wrap_policy", none, "FSDP's auto wrap policy.");
    b.str("--fsdp_transformer_layer_cls_to_wrap", none, "Transformer layer class name (case-sensitive) to wrap, e.g, `BertLayer`, `GPTJBlock`, `T5Block` ....");
    b.str("--fsdp_backward_prefetch", none, "FSDP's backward prefetch policy.");
    b.str("--fsdp_state_dict_type", none, "FSDP's state dict type.");
    b.str("--fsdp_forward_prefetch", s("false"), "If True, then FSDP explicitly prefetches the next upcoming all-gather while executing in the forward pass.");
    b.str("--fsdp_use_orig_params", s("true"), "If True, allows non-uniform `requires_grad` during init.");
    b.str("--fsdp_cpu_ram_efficient_loading", s("true"), "If True, only the first process loads the pretrained model checkoint while all other processes have empty weights.");
    b.str("--fsdp_sync_module_states", s("true"), "If True, each individually wrapped FSDP unit will broadcast module parameters from rank 0.");
    b.str("--fsdp_activation_checkpointing", s("false"), "Decides Whether (true|false) intermediate activations are freed during the forward pass, and a checkpoint is left as a placeholder.");

    b.group = k_megatron;
    b.integer("--megatron_lm_tp_degree", i(1), "Megatron-LM's Tensor Parallelism (TP) degree.");
    b.py_bool("--megatron_lm_use_custom_fsdp", Value::boolean(false), "Whether to use custom FSDP.");
    b.py_bool("--megatron_lm_no_load_optim", Value::boolean(false), "Do not load optimizer when loading checkpoint.");
    b.py_bool("--megatron_lm_eod_mask_loss", Value::boolean(false), "Mask loss for the end of document tokens.");
    b.py_bool("--megatron_lm_overlap_cpu_optimizer_d2h_h2d", Value::boolean(false), "Overlap CPU optimizer step, gradients D2H and updated parameters H2D.");
    b.py_bool("--megatron_lm_no_save_optim", Value::boolean(false), "Do not save current optimizer.");
    b.py_bool("--megatron_lm_optimizer_cpu_offload", Value::boolean(false), "Offload optimizer state to CPU.");
    b.py_bool("--megatron_lm_use_precision_aware_optimizer", Value::boolean(false), "Use the precision-aware optimizer.");
    b.integer("--megatron_lm_decoder_last_pipeline_num_layers", none, "The number of transformer layers on the last pipeline stage of the decoder.");
    b.integer("--megatron_lm_pp_degree", i(1), "Megatron-LM's Pipeline Parallelism (PP) degree.");
    b.integer("--megatron_lm_num_micro_batches", none, "Megatron-LM's number of micro batches when PP degree > 1.");
    b.str("--megatron_lm_sequence_parallelism", none, "Decides Whether (true|false) to enable Sequence Parallelism when TP degree > 1.");
    b.str("--megatron_lm_recompute_activations", none, "Decides Whether (true|false) to enable Selective Activation Recomputation.");
    b.str("--megatron_lm_use_distributed_optimizer", none, "Decides Whether (true|false) to use distributed optimizer which shards optimizer state and gradients across Data Pralellel (DP) ranks.");
    b.real("--megatron_lm_gradient_clipping", Value::real(1.0), "Megatron-LM's gradient clipping value based on global L2 Norm (0 to disable).");
    b.str("--megatron_lm_recompute_granularity", none, "Granularity of activation recomputation (full|selective).");
    b.str("--megatron_lm_recompute_method", none, "Method of activation recomputation (uniform|block).");
    b.integer("--megatron_lm_recompute_num_layers", none, "Number of layers to recompute.");
    b.str("--megatron_lm_attention_backend", none, "Attention backend to use.");
    b.integer("--megatron_lm_expert_model_parallel_size", none, "Degree of expert model parallelism.");
    b.integer("--megatron_lm_context_parallel_size", none, "Degree of context parallelism.");
    b.real("--megatron_lm_attention_dropout", none, "Post attention dropout probability.");
    b.real("--megatron_lm_hidden_dropout", none, "Dropout probability for hidden state transformer.");
    b.str("--megatron_lm_attention_softmax_in_fp32", none, "Whether to run attention softmax in fp32.");
    b.integer("--megatron_lm_expert_tensor_parallel_size", none, "Degree of expert tensor parallelism.");
    b.str("--megatron_lm_calculate_per_token_loss", none, "Whether to calculate the loss per token.");
    b.str("--megatron_lm_use_rotary_position_embeddings", none, "Whether to use rotary position embeddings.");

    b.group = k_fp8;
    b.choice("--fp8_backend", {"ao", "te", "msamp"}, none, "Choose a backend to train with FP8 (ao: torchao, te: TransformerEngine, msamp: MS-AMP)");
    b.flag("--fp8_use_autocast_during_eval", "Whether to use FP8 autocast during eval mode (useful only when `--fp8_backend=te` is passed).");
    b.integer("--fp8_margin", i(0), "The margin to use for the gradient scaling (useful only when `--fp8_backend=te` is passed).");
    b.integer("--fp8_interval", i(1), "The interval to use for how often the scaling factor is recomputed (useful only when `--fp8_backend=te` is passed).");
    b.choice("--fp8_format", {"HYBRID", "E4M3", "E5M2"}, s("HYBRID"), "The format to use for the FP8 recipe (useful only when `--fp8_backend=te` is passed).");
    b.integer("--fp8_amax_history_len", i(1024), "The length of the history to use for the scaling factor computation (useful only when `--fp8_backend=te` is passed).");
    b.choice("--fp8_amax_compute_algo", {"max", "most_recent"}, s("most_recent"), "The algorithm to use for the scaling factor computation. (useful only when `--fp8_backend=te` is passed).");
    b.add("fp8_override_linear_precision", {"--fp8_override_linear_precision"}, FlagKind::value, ValueType::bool_tuple,
          Value::list({Value::boolean(false), Value::boolean(false), Value::boolean(false)}),
          "Whether or not to execute `fprop`, `dgrad`, and `wgrad` GEMMS in higher precision.");
    b.choice("--fp8_opt_level", {"O1", "O2"}, s("O2"), "What level of 8-bit collective communication should be used with MS-AMP (useful only when `--fp8_backend=msamp` is passed).");
    b.add("fp8_enable_fsdp_float8_all_gather", {"--fp8_enable_fsdp_float8_all_gather"}, FlagKind::value,
          ValueType::str_to_bool, i(1), "Whether to enable FSDP2 float8 all gather (useful only when `--fp8_backend=ao` is passed).");
    b.add("fp8_pad_inner_dim", {"--fp8_pad_inner_dim"}, FlagKind::value, ValueType::str_to_bool, i(1),
          "Whether to pad the inner dimension for FP8 GEMMs (useful only when `--fp8_backend=ao` is passed).");

    b.group = k_aws;
    b.str("--aws_access_key_id", none, "The AWS_ACCESS_KEY_ID used to launch the Amazon SageMaker training job");
    b.str("--aws_secret_access_key", none, "The AWS_SECRET_ACCESS_KEY used to launch the Amazon SageMaker training job.");

    b.group = "";
    b.flag("--debug", "Whether to print out the torch.distributed stack trace when something fails.");

    b.group = k_mpi;
    b.str("--mpirun_hostfile", none, "Location for a hostfile for using Accelerate to launch a multi-CPU training job with mpirun.");

    b.group = k_parallelism;
    b.integer("--parallelism_config_dp_replicate_size", i(1), "The number of processes for data parallel training.");
    b.integer("--parallelism_config_dp_shard_size", i(1), "The number of processes for FSDP sharding.");
    b.integer("--parallelism_config_tp_size", i(1), "The number of processes for tensor parallel training.");
    b.integer("--parallelism_config_cp_size", i(1), "The number of processes for context parallel training.");
    b.choice("--parallelism_config_cp_backend", {"torch"}, s("torch"), "Context Parallelism backend.");
    b.str("--parallelism_config_cp_comm_strategy", s("allgather"), "The communication strategy for context parallel training.");
    b.integer("--parallelism_config_sp_size", i(1), "The number of processes for sequence parallel training.");
    b.choice("--parallelism_config_sp_backend", {"deepspeed"}, s("deepspeed"), "Sequence Parallelism backend.");
    b.str("--parallelism_config_sp_seq_length", none, "The sequence length for sequence parallel training.");
    b.py_bool("--parallelism_config_sp_seq_length_is_variable", Value::boolean(true), "Whether the sequence length is variable.");
    b.str("--parallelism_config_sp_attn_implementation", s("sdpa"), "The attention implementation for sequence parallel training.");

    b.group = k_native;
    b.flag("--dry_run", "Print the resolved settings (each with its source) and every rank's command and environment, then exit without starting anything.");
    b.real("--grace_period", Value::real(30.0), "Seconds a worker gets between SIGTERM and SIGKILL when the job is stopped (torchrun: 30).");
    b.str("--verdict_json", none, "Also write how the run ended (result, exit status, each rank's status, the first failure and its root cause) as JSON to this path.");
    b.real("--rdzv_timeout", Value::real(300.0), "Multi-machine jobs: seconds a launcher waits to reach machine 0 and for every machine to join; then it exits naming the missing machines.");

    // The positional arguments come after all flags in argparse's usage.
    return std::move(b.flags);
}

}  // namespace

const std::vector<FlagSpec>& launch_flags() {
    static const std::vector<FlagSpec> table = build_table();
    return table;
}

const FlagSpec* find_flag(const std::string& name) {
    static const auto index = [] {
        std::unordered_map<std::string, const FlagSpec*> m;
        for (const auto& f : launch_flags()) {
            for (const auto& n : f.names) {
                m.emplace(n, &f);
            }
        }
        return m;
    }();
    auto it = index.find(name);
    return it == index.end() ? nullptr : it->second;
}

std::string flag_display_name(const FlagSpec& flag) {
    std::string out;
    for (const auto& n : flag.names) {
        out += (out.empty() ? "" : "/") + n;
    }
    return out;
}

}  // namespace acc::cli
