#include "acc/cli/launch_flags.hpp"

#include <algorithm>

namespace acc::cli {

namespace {

constexpr std::string_view k_top;
constexpr std::string_view k_hardware = "Hardware Selection Arguments";
constexpr std::string_view k_resource = "Resource Selection Arguments";
constexpr std::string_view k_paradigm = "Training Paradigm Arguments";
constexpr std::string_view k_distributed = "Distributed GPUs";
constexpr std::string_view k_tpu = "TPU";
constexpr std::string_view k_deepspeed = "DeepSpeed Arguments";
constexpr std::string_view k_fsdp = "FSDP Arguments";
constexpr std::string_view k_megatron = "Megatron-LM Arguments";
constexpr std::string_view k_fp8 = "FP8 Arguments";
constexpr std::string_view k_aws = "AWS Arguments";
constexpr std::string_view k_mpi = "MPI Arguments";
constexpr std::string_view k_parallelism = "ParallelismConfig Arguments";
constexpr std::string_view k_native = "Native launcher (extensions of this implementation)";

constexpr bool untracked = false;
constexpr FlagDefault k_none{};
constexpr FlagDefault truth(bool b) { return {FlagDefault::Kind::boolean, b, 0, 0, {}}; }
constexpr FlagDefault whole(std::int64_t i) { return {FlagDefault::Kind::integer, false, i, 0, {}}; }
constexpr FlagDefault decimal(double d) { return {FlagDefault::Kind::real, false, 0, d, {}}; }
constexpr FlagDefault text(std::string_view s) { return {FlagDefault::Kind::string, false, 0, 0, s}; }
constexpr FlagDefault false_list(std::int64_t n) { return {FlagDefault::Kind::false_list, false, n, 0, {}}; }

constexpr FlagSpec declared(std::string_view group, std::string_view dest, std::array<std::string_view, 2> names,
                            FlagKind kind, ValueType type, FlagDefault def, std::string_view help,
                            bool tracked = true) {
    return FlagSpec{dest, names, kind, type, {}, def, group, help, tracked};
}
// The common shape: one `--name` whose dest is the name without its dashes.
constexpr FlagSpec valued(std::string_view group, std::string_view name, ValueType type, FlagDefault def,
                          std::string_view help) {
    return declared(group, name.substr(2), {name, {}}, FlagKind::value, type, def, help);
}
// store_true declared in a group defaults to False, at the top level to None (argparse).
constexpr FlagSpec flag(std::string_view group, std::string_view name, std::string_view help) {
    return declared(group, name.substr(2), {name, {}}, FlagKind::store_true, ValueType::str,
                    group.empty() ? k_none : truth(false), help);
}
constexpr FlagSpec text_flag(std::string_view group, std::string_view name, FlagDefault def, std::string_view help) {
    return valued(group, name, ValueType::str, def, help);
}
constexpr FlagSpec int_flag(std::string_view group, std::string_view name, FlagDefault def, std::string_view help) {
    return valued(group, name, ValueType::integer, def, help);
}
constexpr FlagSpec real_flag(std::string_view group, std::string_view name, FlagDefault def, std::string_view help) {
    return valued(group, name, ValueType::real, def, help);
}
constexpr FlagSpec py_bool_flag(std::string_view group, std::string_view name, FlagDefault def,
                                std::string_view help) {
    return valued(group, name, ValueType::py_bool, def, help);
}
constexpr FlagSpec choice_flag(std::string_view group, std::string_view name, std::span<const std::string_view> choices,
                               FlagDefault def, std::string_view help) {
    FlagSpec f = valued(group, name, ValueType::str, def, help);
    f.choices = choices;
    return f;
}

constexpr std::string_view k_mixed_precision_choices[] = {"no", "fp16", "bf16", "fp8"};
constexpr std::string_view k_dynamo_backend_choices[] = {"no", "eager", "aot_eager", "inductor", "aot_ts_nvfuser", "nvprims_nvfuser", "cudagraphs", "ofi", "fx2trt", "onnxrt", "tensorrt", "aot_torchxla_trace_once", "torhchxla_trace_once", "tvm"};
constexpr std::string_view k_dynamo_mode_choices[] = {"default", "reduce-overhead", "max-autotune"};
constexpr std::string_view k_fsdp_version_choices[] = {"1", "2"};
constexpr std::string_view k_fp8_backend_choices[] = {"ao", "te", "msamp"};
constexpr std::string_view k_fp8_format_choices[] = {"HYBRID", "E4M3", "E5M2"};
constexpr std::string_view k_fp8_amax_compute_algo_choices[] = {"max", "most_recent"};
constexpr std::string_view k_fp8_opt_level_choices[] = {"O1", "O2"};
constexpr std::string_view k_parallelism_config_cp_backend_choices[] = {"torch"};
constexpr std::string_view k_parallelism_config_sp_backend_choices[] = {"deepspeed"};

// Upstream's declaration order (it is the help's order); the positional arguments come after.
constexpr FlagSpec k_flags[] = {
    declared(k_top, "help", {"-h", "--help"}, FlagKind::help, ValueType::str, k_none, "Show this help message and exit.", untracked),
    text_flag(k_top, "--config_file", k_none, "The config file to use for the default values in the launching script."),
    declared(k_top, "quiet", {"--quiet", "-q"}, FlagKind::store_true, ValueType::str, k_none, "Silence subprocess errors from the launch stack trace and only show the relevant tracebacks. " "(Only applicable to DeepSpeed and single-process configurations)"),
    flag(k_hardware, "--cpu", "Whether or not to force the training on the CPU."),
    flag(k_hardware, "--multi_gpu", "Whether or not this should launch a distributed GPU training."),
    flag(k_hardware, "--tpu", "Whether or not this should launch a TPU training."),
    choice_flag(k_resource, "--mixed_precision", k_mixed_precision_choices, k_none, "Whether or not to use mixed precision training. Choose between FP16, BF16 (bfloat16) or FP8 training."),
    int_flag(k_resource, "--num_processes", k_none, "The total number of processes to be launched in parallel."),
    int_flag(k_resource, "--num_machines", k_none, "The total number of machines used in this training."),
    int_flag(k_resource, "--num_cpu_threads_per_process", k_none, "The number of CPU threads per process. Can be tuned for optimal performance."),
    flag(k_resource, "--enable_cpu_affinity", "Whether or not CPU affinity and balancing should be enabled. Currently only supported on NVIDIA hardware."),
    choice_flag(k_resource, "--dynamo_backend", k_dynamo_backend_choices, k_none, "Choose a backend to optimize your training with dynamo, see more at https://github.com/pytorch/torchdynamo."),
    choice_flag(k_resource, "--dynamo_mode", k_dynamo_mode_choices, text("default"), "Choose a mode to optimize your training with dynamo."),
    flag(k_resource, "--dynamo_use_fullgraph", "Whether to use full graph mode for dynamo or it is ok to break model into several subgraphs"),
    flag(k_resource, "--dynamo_use_dynamic", "Whether to enable dynamic shape tracing."),
    flag(k_resource, "--dynamo_use_regional_compilation", "Whether to enable regional compilation."),
    flag(k_paradigm, "--use_deepspeed", "Whether to use deepspeed."),
    flag(k_paradigm, "--use_fsdp", "Whether to use fsdp."),
    flag(k_paradigm, "--use_parallelism_config", "Whether to use the parallelism config to configure the N-d distributed training."),
    flag(k_paradigm, "--use_megatron_lm", "Whether to use Megatron-LM."),
    text_flag(k_distributed, "--gpu_ids", k_none, "What GPUs (by id) should be used for training on this machine as a comma-separated list"),
    flag(k_distributed, "--same_network", "Whether all machines used for multinode training exist on the same local network."),
    int_flag(k_distributed, "--machine_rank", k_none, "The rank of the machine on which this script is launched."),
    text_flag(k_distributed, "--main_process_ip", k_none, "The IP address of the machine of rank 0."),
    int_flag(k_distributed, "--main_process_port", k_none, "The port to use to communicate with the machine of rank 0."),
    declared(k_distributed, "tee", {"-t", "--tee"}, FlagKind::value, ValueType::str, text("0"), "Tee std streams into a log file and also to console."),
    text_flag(k_distributed, "--redirects", text("0"), "Redirect std streams into a log file in the log directory (e.g. [-r 3] redirects both stdout+stderr for all " "workers, [-r 0:1,1:2] redirects stdout for local rank 0 and stderr for local rank 1)."),
    text_flag(k_distributed, "--log_dir", k_none, "Base directory to use for log files when using torchrun/torch.distributed.run as launcher."),
    text_flag(k_distributed, "--role", text("default"), "User-defined role for the workers."),
    text_flag(k_distributed, "--rdzv_backend", text("static"), "The rendezvous method to use, such as 'static' (the default) or 'c10d'"),
    text_flag(k_distributed, "--rdzv_conf", text(""), "Additional rendezvous configuration (<key1>=<value1>,<key2>=<value2>,...)."),
    int_flag(k_distributed, "--max_restarts", whole(0), "Maximum number of worker group restarts before failing."),
    real_flag(k_distributed, "--monitor_interval", decimal(0.1), "Interval, in seconds, to monitor the state of workers."),
    declared(k_top, "module", {"-m", "--module"}, FlagKind::store_true, ValueType::str, k_none, "Change each process to interpret the launch script as a Python module, executing with the same behavior as 'python -m'."),
    flag(k_top, "--no_python", "Skip prepending the training script with 'python' - just execute it directly. Useful when the script is not a Python script."),
    declared(k_tpu, "tpu_use_cluster", {"--tpu_cluster", ""}, FlagKind::store_true, ValueType::str, truth(false), "Whether to use a GCP TPU pod for training."),
    declared(k_tpu, "tpu_use_cluster", {"--no_tpu_cluster", ""}, FlagKind::store_false, ValueType::str, truth(false), "Should not be passed explicitly, this is for internal use only."),
    flag(k_tpu, "--tpu_use_sudo", "Whether to use `sudo` when running the TPU training script in each pod."),
    declared(k_tpu, "vm", {"--vm", ""}, FlagKind::append, ValueType::str, k_none, "List of single Compute VM instance names. If not provided we assume usage of instance groups. For TPU pods.", untracked),
    declared(k_tpu, "env", {"--env", ""}, FlagKind::append, ValueType::str, k_none, "List of environment variables to set on the Compute VM instances. For TPU pods.", untracked),
    text_flag(k_tpu, "--main_training_function", k_none, "The name of the main function to be executed in your script (only for TPU training)."),
    flag(k_tpu, "--downcast_bf16", "Whether when using bf16 precision on TPUs if both float and double tensors are cast to bfloat16 or if double tensors remain as float32."),
    text_flag(k_deepspeed, "--deepspeed_config_file", k_none, "DeepSpeed config file."),
    int_flag(k_deepspeed, "--zero_stage", k_none, "DeepSpeed's ZeRO optimization stage (useful only when `use_deepspeed` flag is passed)."),
    text_flag(k_deepspeed, "--offload_optimizer_device", k_none, "Decides where (none|cpu|nvme) to offload optimizer states."),
    text_flag(k_deepspeed, "--offload_param_device", k_none, "Decides where (none|cpu|nvme) to offload parameters."),
    text_flag(k_deepspeed, "--offload_optimizer_nvme_path", k_none, "Decides Nvme Path to offload optimizer states."),
    text_flag(k_deepspeed, "--offload_param_nvme_path", k_none, "Decides Nvme Path to offload parameters."),
    int_flag(k_deepspeed, "--gradient_accumulation_steps", k_none, "No of gradient_accumulation_steps used in your training script."),
    real_flag(k_deepspeed, "--gradient_clipping", k_none, "gradient clipping value used in your training script."),
    text_flag(k_deepspeed, "--zero3_init_flag", k_none, "Decides Whether (true|false) to enable `deepspeed.zero.Init` for constructing massive models. Only applicable with DeepSpeed ZeRO Stage-3."),
    text_flag(k_deepspeed, "--zero3_save_16bit_model", k_none, "Decides Whether (true|false) to save 16-bit model weights when using ZeRO Stage-3."),
    text_flag(k_deepspeed, "--deepspeed_hostfile", k_none, "DeepSpeed hostfile for configuring multi-node compute resources."),
    text_flag(k_deepspeed, "--deepspeed_exclusion_filter", k_none, "DeepSpeed exclusion filter string when using mutli-node setup."),
    text_flag(k_deepspeed, "--deepspeed_inclusion_filter", k_none, "DeepSpeed inclusion filter string when using mutli-node setup."),
    text_flag(k_deepspeed, "--deepspeed_multinode_launcher", k_none, "DeepSpeed multi-node launcher to use, e.g. `pdsh`, `standard`, `openmpi`, `mvapich`, `mpich`, `slurm`, `nossh`."),
    text_flag(k_deepspeed, "--deepspeed_moe_layer_cls_names", k_none, "comma-separated list of transformer MoE layer class names (case-sensitive) to wrap, e.g, `MixtralSparseMoeBlock`."),
    choice_flag(k_fsdp, "--fsdp_version", k_fsdp_version_choices, text("1"), "FSDP version to use."),
    text_flag(k_fsdp, "--fsdp_offload_params", text("false"), "Decides Whether (true|false) to offload parameters and gradients to CPU."),
    int_flag(k_fsdp, "--fsdp_min_num_params", whole(100000000), "FSDP's minimum number of parameters for Default Auto Wrapping."),
    text_flag(k_fsdp, "--fsdp_sharding_strategy", text("FULL_SHARD"), "FSDP's sharding strategy. (useful only when `use_fsdp` flag is passed and `fsdp_version=1`)."),
    text_flag(k_fsdp, "--fsdp_reshard_after_forward", text("true"), "FSDP's Reshard After Forward Strategy."),
    text_flag(k_fsdp, "--fsdp_auto_wrap_policy", k_none, "FSDP's auto wrap policy."),
    text_flag(k_fsdp, "--fsdp_transformer_layer_cls_to_wrap", k_none, "Transformer layer class name (case-sensitive) to wrap, e.g, `BertLayer`, `GPTJBlock`, `T5Block` ...."),
    text_flag(k_fsdp, "--fsdp_backward_prefetch", k_none, "FSDP's backward prefetch policy."),
    text_flag(k_fsdp, "--fsdp_state_dict_type", k_none, "FSDP's state dict type."),
    text_flag(k_fsdp, "--fsdp_forward_prefetch", text("false"), "If True, then FSDP explicitly prefetches the next upcoming all-gather while executing in the forward pass."),
    text_flag(k_fsdp, "--fsdp_use_orig_params", text("true"), "If True, allows non-uniform `requires_grad` during init."),
    text_flag(k_fsdp, "--fsdp_cpu_ram_efficient_loading", text("true"), "If True, only the first process loads the pretrained model checkoint while all other processes have empty weights."),
    text_flag(k_fsdp, "--fsdp_sync_module_states", text("true"), "If True, each individually wrapped FSDP unit will broadcast module parameters from rank 0."),
    text_flag(k_fsdp, "--fsdp_activation_checkpointing", text("false"), "Decides Whether (true|false) intermediate activations are freed during the forward pass, and a checkpoint is left as a placeholder."),
    int_flag(k_megatron, "--megatron_lm_tp_degree", whole(1), "Megatron-LM's Tensor Parallelism (TP) degree."),
    py_bool_flag(k_megatron, "--megatron_lm_use_custom_fsdp", truth(false), "Whether to use custom FSDP."),
    py_bool_flag(k_megatron, "--megatron_lm_no_load_optim", truth(false), "Do not load optimizer when loading checkpoint."),
    py_bool_flag(k_megatron, "--megatron_lm_eod_mask_loss", truth(false), "Mask loss for the end of document tokens."),
    py_bool_flag(k_megatron, "--megatron_lm_overlap_cpu_optimizer_d2h_h2d", truth(false), "Overlap CPU optimizer step, gradients D2H and updated parameters H2D."),
    py_bool_flag(k_megatron, "--megatron_lm_no_save_optim", truth(false), "Do not save current optimizer."),
    py_bool_flag(k_megatron, "--megatron_lm_optimizer_cpu_offload", truth(false), "Offload optimizer state to CPU."),
    py_bool_flag(k_megatron, "--megatron_lm_use_precision_aware_optimizer", truth(false), "Use the precision-aware optimizer."),
    int_flag(k_megatron, "--megatron_lm_decoder_last_pipeline_num_layers", k_none, "The number of transformer layers on the last pipeline stage of the decoder."),
    int_flag(k_megatron, "--megatron_lm_pp_degree", whole(1), "Megatron-LM's Pipeline Parallelism (PP) degree."),
    int_flag(k_megatron, "--megatron_lm_num_micro_batches", k_none, "Megatron-LM's number of micro batches when PP degree > 1."),
    text_flag(k_megatron, "--megatron_lm_sequence_parallelism", k_none, "Decides Whether (true|false) to enable Sequence Parallelism when TP degree > 1."),
    text_flag(k_megatron, "--megatron_lm_recompute_activations", k_none, "Decides Whether (true|false) to enable Selective Activation Recomputation."),
    text_flag(k_megatron, "--megatron_lm_use_distributed_optimizer", k_none, "Decides Whether (true|false) to use distributed optimizer which shards optimizer state and gradients across Data Pralellel (DP) ranks."),
    real_flag(k_megatron, "--megatron_lm_gradient_clipping", decimal(1.0), "Megatron-LM's gradient clipping value based on global L2 Norm (0 to disable)."),
    text_flag(k_megatron, "--megatron_lm_recompute_granularity", k_none, "Granularity of activation recomputation (full|selective)."),
    text_flag(k_megatron, "--megatron_lm_recompute_method", k_none, "Method of activation recomputation (uniform|block)."),
    int_flag(k_megatron, "--megatron_lm_recompute_num_layers", k_none, "Number of layers to recompute."),
    text_flag(k_megatron, "--megatron_lm_attention_backend", k_none, "Attention backend to use."),
    int_flag(k_megatron, "--megatron_lm_expert_model_parallel_size", k_none, "Degree of expert model parallelism."),
    int_flag(k_megatron, "--megatron_lm_context_parallel_size", k_none, "Degree of context parallelism."),
    real_flag(k_megatron, "--megatron_lm_attention_dropout", k_none, "Post attention dropout probability."),
    real_flag(k_megatron, "--megatron_lm_hidden_dropout", k_none, "Dropout probability for hidden state transformer."),
    text_flag(k_megatron, "--megatron_lm_attention_softmax_in_fp32", k_none, "Whether to run attention softmax in fp32."),
    int_flag(k_megatron, "--megatron_lm_expert_tensor_parallel_size", k_none, "Degree of expert tensor parallelism."),
    text_flag(k_megatron, "--megatron_lm_calculate_per_token_loss", k_none, "Whether to calculate the loss per token."),
    text_flag(k_megatron, "--megatron_lm_use_rotary_position_embeddings", k_none, "Whether to use rotary position embeddings."),
    choice_flag(k_fp8, "--fp8_backend", k_fp8_backend_choices, k_none, "Choose a backend to train with FP8 (ao: torchao, te: TransformerEngine, msamp: MS-AMP)"),
    flag(k_fp8, "--fp8_use_autocast_during_eval", "Whether to use FP8 autocast during eval mode (useful only when `--fp8_backend=te` is passed)."),
    int_flag(k_fp8, "--fp8_margin", whole(0), "The margin to use for the gradient scaling (useful only when `--fp8_backend=te` is passed)."),
    int_flag(k_fp8, "--fp8_interval", whole(1), "The interval to use for how often the scaling factor is recomputed (useful only when `--fp8_backend=te` is passed)."),
    choice_flag(k_fp8, "--fp8_format", k_fp8_format_choices, text("HYBRID"), "The format to use for the FP8 recipe (useful only when `--fp8_backend=te` is passed)."),
    int_flag(k_fp8, "--fp8_amax_history_len", whole(1024), "The length of the history to use for the scaling factor computation (useful only when `--fp8_backend=te` is passed)."),
    choice_flag(k_fp8, "--fp8_amax_compute_algo", k_fp8_amax_compute_algo_choices, text("most_recent"), "The algorithm to use for the scaling factor computation. (useful only when `--fp8_backend=te` is passed)."),
    declared(k_fp8, "fp8_override_linear_precision", {"--fp8_override_linear_precision", ""}, FlagKind::value, ValueType::bool_tuple, false_list(3), "Whether or not to execute `fprop`, `dgrad`, and `wgrad` GEMMS in higher precision."),
    choice_flag(k_fp8, "--fp8_opt_level", k_fp8_opt_level_choices, text("O2"), "What level of 8-bit collective communication should be used with MS-AMP (useful only when `--fp8_backend=msamp` is passed)."),
    declared(k_fp8, "fp8_enable_fsdp_float8_all_gather", {"--fp8_enable_fsdp_float8_all_gather", ""}, FlagKind::value, ValueType::str_to_bool, whole(1), "Whether to enable FSDP2 float8 all gather (useful only when `--fp8_backend=ao` is passed)."),
    declared(k_fp8, "fp8_pad_inner_dim", {"--fp8_pad_inner_dim", ""}, FlagKind::value, ValueType::str_to_bool, whole(1), "Whether to pad the inner dimension for FP8 GEMMs (useful only when `--fp8_backend=ao` is passed)."),
    text_flag(k_aws, "--aws_access_key_id", k_none, "The AWS_ACCESS_KEY_ID used to launch the Amazon SageMaker training job"),
    text_flag(k_aws, "--aws_secret_access_key", k_none, "The AWS_SECRET_ACCESS_KEY used to launch the Amazon SageMaker training job."),
    flag(k_top, "--debug", "Whether to print out the torch.distributed stack trace when something fails."),
    text_flag(k_mpi, "--mpirun_hostfile", k_none, "Location for a hostfile for using Accelerate to launch a multi-CPU training job with mpirun."),
    int_flag(k_parallelism, "--parallelism_config_dp_replicate_size", whole(1), "The number of processes for data parallel training."),
    int_flag(k_parallelism, "--parallelism_config_dp_shard_size", whole(1), "The number of processes for FSDP sharding."),
    int_flag(k_parallelism, "--parallelism_config_tp_size", whole(1), "The number of processes for tensor parallel training."),
    int_flag(k_parallelism, "--parallelism_config_cp_size", whole(1), "The number of processes for context parallel training."),
    choice_flag(k_parallelism, "--parallelism_config_cp_backend", k_parallelism_config_cp_backend_choices, text("torch"), "Context Parallelism backend."),
    text_flag(k_parallelism, "--parallelism_config_cp_comm_strategy", text("allgather"), "The communication strategy for context parallel training."),
    int_flag(k_parallelism, "--parallelism_config_sp_size", whole(1), "The number of processes for sequence parallel training."),
    choice_flag(k_parallelism, "--parallelism_config_sp_backend", k_parallelism_config_sp_backend_choices, text("deepspeed"), "Sequence Parallelism backend."),
    text_flag(k_parallelism, "--parallelism_config_sp_seq_length", k_none, "The sequence length for sequence parallel training."),
    py_bool_flag(k_parallelism, "--parallelism_config_sp_seq_length_is_variable", truth(true), "Whether the sequence length is variable."),
    text_flag(k_parallelism, "--parallelism_config_sp_attn_implementation", text("sdpa"), "The attention implementation for sequence parallel training."),
    flag(k_native, "--dry_run", "Print the resolved settings (each with its source) and every rank's command and environment, then exit without starting anything."),
    real_flag(k_native, "--grace_period", decimal(30.0), "Seconds a worker gets between SIGTERM and SIGKILL when the job is stopped (torchrun: 30)."),
    text_flag(k_native, "--verdict_json", k_none, "Also write how the run ended (result, exit status, each rank's status, the first failure and its root cause) as JSON to this path."),
    real_flag(k_native, "--rdzv_timeout", decimal(300.0), "Multi-machine jobs: seconds a launcher waits to reach machine 0 and for every machine to join; then it exits naming the missing machines.")
};

// Sorted at compile time: loading the defaults in this order costs no sort at start-up.
constexpr auto k_flags_by_dest = [] {
    constexpr size_t n = std::size(k_flags);
    std::array<size_t, n> order{};
    for (size_t i = 0; i < n; ++i) {
        order[i] = i;
    }
    std::sort(order.begin(), order.end(), [](size_t a, size_t b) {
        return k_flags[a].dest < k_flags[b].dest || (k_flags[a].dest == k_flags[b].dest && a < b);
    });
    std::array<const FlagSpec*, n> out{};
    for (size_t i = 0; i < n; ++i) {
        out[i] = &k_flags[order[i]];
    }
    return out;
}();

// Whether `typed` is the `--x-y` alias argparse adds for a declared `--x_y`.
bool is_hyphen_alias_of(std::string_view typed, std::string_view declared_name) {
    if (typed.size() != declared_name.size() || declared_name.substr(0, 2) != "--" ||
        declared_name.find('_') == std::string_view::npos) {
        return false;
    }
    for (size_t i = 0; i < typed.size(); ++i) {
        const char want = i >= 2 && declared_name[i] == '_' ? '-' : declared_name[i];
        if (typed[i] != want) {
            return false;
        }
    }
    return true;
}

}  // namespace

Value FlagDefault::to_value() const {
    switch (kind) {
    case Kind::none: return Value::none();
    case Kind::boolean: return Value::boolean(boolean);
    case Kind::integer: return Value::integer(integer);
    case Kind::real: return Value::real(real);
    case Kind::string: return Value::string(std::string(text));
    case Kind::false_list: return Value::list(std::vector<Value>(static_cast<size_t>(integer), Value::boolean(false)));
    }
    return Value::none();
}

std::span<const FlagSpec> launch_flags() {
    return k_flags;
}

std::span<const FlagSpec* const> launch_flags_by_dest() {
    return k_flags_by_dest;
}

const FlagSpec* find_flag(std::string_view name) {
    // ~130 entries, looked up a handful of times per launch: a scan beats building an index.
    for (const FlagSpec& f : k_flags) {
        for (std::string_view n : f.declared) {
            if (!n.empty() && (n == name || is_hyphen_alias_of(name, n))) {
                return &f;
            }
        }
    }
    return nullptr;
}

std::vector<std::string> option_strings(const FlagSpec& flag) {
    std::vector<std::string> out;
    for (std::string_view n : flag.declared) {
        if (n.empty()) {
            continue;
        }
        out.emplace_back(n);
        if (n.substr(0, 2) == "--" && n.find('_') != std::string_view::npos) {
            std::string alias(n);
            for (size_t i = 2; i < alias.size(); ++i) {
                if (alias[i] == '_') {
                    alias[i] = '-';
                }
            }
            out.push_back(std::move(alias));
        }
    }
    return out;
}

std::string flag_display_name(const FlagSpec& flag) {
    std::string out;
    for (const auto& n : option_strings(flag)) {
        out += (out.empty() ? "" : "/") + n;
    }
    return out;
}

}  // namespace acc::cli
