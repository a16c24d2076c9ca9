// Each worker's command and environment for the simple and torchrun paths.
#include "acc/launch/launch_plan.hpp"

#include <gtest/gtest.h>

#include "acc/cli/launch_parser.hpp"
#include "acc/launch/dry_run.hpp"
#include "acc/proc/host_probe.hpp"
#include "acc/util/error.hpp"
#include "test_support.hpp"

using namespace acc;
using namespace acc::launch;

namespace {

// Port 29500 is taken on this faked machine, so the busy-port rule shows.
HostFacts plan_host(int gpus = 0, std::map<std::string, std::string> env = {}) {
    return test::fake_host(gpus, std::move(env), 1, 29500);
}

struct Planned {
    LaunchSettings settings;
    Resolution resolution;
    LaunchPlan plan;
};

Planned plan(std::vector<std::string> args, const HostFacts& facts = plan_host(), const std::string& yaml = "") {
    Planned p;
    p.settings = cli::parse_launch_args(args).settings;
    check_flag_conflicts(p.settings);
    std::optional<config::ConfigFile> cfg;
    if (!yaml.empty()) {
        cfg = config::make_config(config::parse_yaml(yaml, "c.yaml"), "c.yaml");
    }
    p.resolution = resolve_settings(p.settings, cfg, facts);
    p.plan = plan_launch(p.settings, p.resolution, facts);
    return p;
}

std::string plan_error(std::vector<std::string> args, const HostFacts& facts = plan_host()) {
    try {
        plan(args, facts);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(LaunchPlan, SimpleLauncherMinimalEnvironment) {
    auto p = plan({"t.py", "--x"});
    ASSERT_EQ(p.plan.kind, LauncherKind::simple);
    const auto& w = p.plan.workers.at(0);
    EXPECT_EQ(w.argv, (std::vector<std::string>{"/usr/bin/python3", "t.py", "--x"}));
    std::map<std::string, std::string> expected = {{"ACCELERATE_USE_CPU", "False"},
                                                   {"ACCELERATE_MIXED_PRECISION", "no"},
                                                   {"ACCELERATE_DYNAMO_BACKEND", "NO"},
                                                   {"ACCELERATE_DYNAMO_MODE", "default"},
                                                   {"ACCELERATE_DYNAMO_USE_FULLGRAPH", "False"},
                                                   {"ACCELERATE_DYNAMO_USE_DYNAMIC", "False"},
                                                   {"ACCELERATE_DYNAMO_USE_REGIONAL_COMPILATION", "False"},
                                                   {"OMP_NUM_THREADS", "1"}};
    EXPECT_EQ(w.env, expected);
}

TEST(LaunchPlan, ConfigUseCpuGoesOutAsWrittenAsUpstreamsStrOfOrDoes) {
    // str(cpu or use_cpu): the config's own value when --cpu is off, True when it is on.
    const std::string base = "compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nnum_processes: 1\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"'false'", "false"}, {"'no'", "no"}, {"0", "0"}, {"1", "1"}, {"''", ""}, {"null", "None"},
        {"true", "True"},     {"false", "False"}};
    for (const auto& [written, exported] : cases) {
        auto p = plan({"t.py"}, plan_host(), base + "use_cpu: " + written + "\n");
        EXPECT_EQ(p.plan.workers.at(0).env.at("ACCELERATE_USE_CPU"), exported) << "use_cpu: " << written;
    }
    auto forced = plan({"--cpu", "t.py"}, plan_host(), base + "use_cpu: 'false'\n");
    EXPECT_EQ(forced.plan.workers.at(0).env.at("ACCELERATE_USE_CPU"), "True");
}

TEST(LaunchPlan, TorchrunWorkersGetTorchrunsVariablesAndUnbufferedPython) {
    auto p = plan({"--multi_gpu", "--num_processes", "2", "--main_process_port", "29511", "-m", "pkg.mod", "a"});
    ASSERT_EQ(p.plan.kind, LauncherKind::torchrun);
    ASSERT_EQ(p.plan.workers.size(), 2u);
    const auto& w = p.plan.workers[1];
    EXPECT_EQ(w.argv, (std::vector<std::string>{"/usr/bin/python3", "-u", "-m", "pkg.mod", "a"}));
    EXPECT_EQ(w.env.at("RANK"), "1");
    EXPECT_EQ(w.env.at("LOCAL_RANK"), "1");
    EXPECT_EQ(w.env.at("GROUP_RANK"), "0");
    EXPECT_EQ(w.env.at("ROLE_RANK"), "1");
    EXPECT_EQ(w.env.at("ROLE_NAME"), "default");
    EXPECT_EQ(w.env.at("LOCAL_WORLD_SIZE"), "2");
    EXPECT_EQ(w.env.at("WORLD_SIZE"), "2");
    EXPECT_EQ(w.env.at("GROUP_WORLD_SIZE"), "1");
    EXPECT_EQ(w.env.at("ROLE_WORLD_SIZE"), "2");
    EXPECT_EQ(w.env.at("MASTER_ADDR"), "127.0.0.1");
    EXPECT_EQ(w.env.at("MASTER_PORT"), "29511");
    EXPECT_EQ(w.env.at("TORCHELASTIC_RUN_ID"), "none");
    EXPECT_EQ(w.env.at("TORCHELASTIC_MAX_RESTARTS"), "0");
    EXPECT_EQ(w.env.at("TORCH_NCCL_ASYNC_ERROR_HANDLING"), "1");
    EXPECT_EQ(w.env.count("ACCELERATE_USE_CPU"), 0u);
    EXPECT_TRUE(p.plan.torchrun_env);
}

TEST(LaunchPlan, TorchrunSubstitutesLocalRankInTheArgumentsAsTorchrunDoes) {
    auto p = plan({"--multi_gpu", "--num_processes", "2", "--main_process_port", "29511", "run_${local_rank}.py",
                   "--out=o$local_rank", "a$$b", "$HOME", "${local_rank"});
    ASSERT_EQ(p.plan.workers.size(), 2u);
    EXPECT_EQ(p.plan.workers[1].argv, (std::vector<std::string>{"/usr/bin/python3", "-u", "run_1.py", "--out=o1",
                                                                "a$b", "$HOME", "${local_rank"}));
    // The entry point is not substituted: with --no_python that is the program itself.
    auto bin = plan({"--cpu", "--num_processes", "2", "--no_python", "/opt/$local_rank/x", "$local_rank"});
    EXPECT_EQ(bin.plan.workers[0].argv, (std::vector<std::string>{"/opt/$local_rank/x", "0"}));
    // The simple launcher runs the command as typed, as upstream's subprocess does.
    auto simple = plan({"t.py", "${local_rank}", "a$$b"});
    EXPECT_EQ(simple.plan.workers[0].argv, (std::vector<std::string>{"/usr/bin/python3", "t.py", "${local_rank}", "a$$b"}));
}

TEST(LaunchPlan, DynamoBackendsAreUpstreamsEnum) {
    auto neuron = plan({"--multi_gpu", "--num_processes", "2", "t.py"}, plan_host(),
                       "distributed_type: MULTI_GPU\nnum_processes: 2\ndynamo_config:\n  dynamo_backend: neuron\n");
    EXPECT_EQ(neuron.plan.workers[0].env.at("ACCELERATE_DYNAMO_BACKEND"), "NEURON");
    try {
        plan({"--multi_gpu", "--num_processes", "2", "t.py"}, plan_host(),
             "distributed_type: MULTI_GPU\nnum_processes: 2\ndynamo_config:\n  dynamo_backend: ipex\n");
        FAIL() << "ipex is not in upstream's enum";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "Unknown dynamo backend: IPEX. Choose between ['NO', 'EAGER', 'AOT_EAGER', 'INDUCTOR', "
                  "'AOT_TS_NVFUSER', 'NVPRIMS_NVFUSER', 'CUDAGRAPHS', 'OFI', 'FX2TRT', 'ONNXRT', 'TENSORRT', "
                  "'AOT_TORCHXLA_TRACE_ONCE', 'TORCHXLA_TRACE_ONCE', 'TVM', 'HPU_BACKEND', 'NEURON'].");
    }
}

TEST(LaunchPlan, BusyDefaultPortIsReplacedWithANote) {
    auto p = plan({"--multi_gpu", "--num_processes", "2", "t.py"});
    EXPECT_EQ(p.plan.workers[0].env.at("MASTER_PORT"), "40000");
    ASSERT_EQ(p.plan.notes.size(), 1u);
    EXPECT_EQ(p.plan.notes[0],
              "port 29500 is already in use on this machine; using free port 40000 instead (pass "
              "--main_process_port to choose one)");
}

TEST(LaunchPlan, NativeMultiCpuStartsEveryRank) {
    auto p = plan({"--cpu", "--num_processes", "4", "--main_process_port", "29600", "t.py"});
    ASSERT_EQ(p.plan.kind, LauncherKind::multi_cpu);
    ASSERT_EQ(p.plan.workers.size(), 4u);
    EXPECT_EQ(p.plan.workers[3].env.at("ACCELERATE_USE_CPU"), "True");
    EXPECT_EQ(p.plan.workers[3].env.at("RANK"), "3");
    EXPECT_EQ(p.plan.workers[3].env.at("MASTER_PORT"), "29600");
}

TEST(LaunchPlan, MultiCpuConfigStartsEveryRankToo) {
    auto p = plan({"t.py"}, plan_host(), "distributed_type: MULTI_CPU\nnum_processes: 3\nuse_cpu: true\n");
    EXPECT_EQ(p.plan.kind, LauncherKind::multi_cpu);
    EXPECT_EQ(p.plan.workers.size(), 3u);
}

TEST(LaunchPlan, MultiCpuWorkersGetNoParadigmVariables) {
    // Upstream's --cpu path is its simple launcher, whose worker never hears of FSDP,
    // Megatron-LM or a ParallelismConfig: neither do our multi-CPU ranks.
    auto megatron = plan({"--cpu", "--use_megatron_lm", "--num_processes", "2", "--main_process_port", "29600", "t.py"});
    ASSERT_EQ(megatron.plan.kind, LauncherKind::multi_cpu);
    for (const auto& [var, value] : megatron.plan.workers.at(1).env) {
        EXPECT_FALSE(var.starts_with("MEGATRON_LM_") || var == "ACCELERATE_USE_MEGATRON_LM") << var;
    }
    EXPECT_EQ(megatron.plan.workers.at(1).env.at("ACCELERATE_MIXED_PRECISION"), "no");
    // (--cpu --use_fsdp is refused, as upstream; an FSDP config under --cpu is not.)
    auto p = plan({"--cpu", "t.py"}, plan_host(),
                  "distributed_type: FSDP\nnum_processes: 2\nmain_process_port: 29600\n"
                  "parallelism_config:\n  parallelism_config_tp_size: 2\n");
    ASSERT_EQ(p.plan.kind, LauncherKind::multi_cpu);
    for (const auto& [var, value] : p.plan.workers.at(0).env) {
        EXPECT_FALSE(var.starts_with("FSDP_") || var.starts_with("PARALLELISM_CONFIG_") ||
                     var == "ACCELERATE_USE_FSDP" || var == "ACCELERATE_USE_PARALLELISM_CONFIG")
            << var;
    }
}

TEST(LaunchPlan, UnderMpiOneProcessAsUpstream) {
    auto p = plan({"--cpu", "--num_processes", "2", "t.py"}, plan_host(0, {{"OMPI_COMM_WORLD_SIZE", "2"}}));
    ASSERT_EQ(p.plan.kind, LauncherKind::simple);
    ASSERT_EQ(p.plan.workers.size(), 1u);
    EXPECT_EQ(p.plan.workers[0].env.at("MASTER_ADDR"), "127.0.0.1");
    EXPECT_EQ(p.plan.workers[0].env.at("MASTER_PORT"), "29500");
}

TEST(LaunchPlan, MultiMachineRanksAreOffsetByMachineRank) {
    auto p = plan({"--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank", "1",
                   "--main_process_ip", "10.1.2.3", "--main_process_port", "29611", "t.py"});
    ASSERT_EQ(p.plan.workers.size(), 2u);
    EXPECT_EQ(p.plan.workers[0].env.at("RANK"), "2");
    EXPECT_EQ(p.plan.workers[1].env.at("RANK"), "3");
    EXPECT_EQ(p.plan.workers[1].env.at("GROUP_RANK"), "1");
    EXPECT_EQ(p.plan.workers[1].env.at("GROUP_WORLD_SIZE"), "2");
    EXPECT_EQ(p.plan.workers[1].env.at("WORLD_SIZE"), "4");
    EXPECT_EQ(p.plan.workers[1].env.at("MASTER_ADDR"), "10.1.2.3");
}

TEST(LaunchPlan, MultiMachineMistakesFailAtOnce) {
    EXPECT_EQ(plan_error({"--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank", "1", "t.py"}),
              "a multi-machine launch (num_machines=2) needs the address of machine 0: pass --main_process_ip (and "
              "the same --main_process_port on every machine) or set main_process_ip in the config");
    EXPECT_EQ(plan_error({"--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--main_process_ip", "h",
                          "t.py"}),
              "a multi-machine launch (num_machines=2) needs this machine's rank: pass --machine_rank 0..1");
    EXPECT_EQ(plan_error({"--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank", "2",
                          "--main_process_ip", "h", "t.py"}),
              "machine_rank 2 is out of range for num_machines=2 (use 0..1)");
    EXPECT_EQ(plan_error({"--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank", "0",
                          "--main_process_ip", "h", "t.py"}),
              "Tried to launch distributed communication on port `29500`, but another process is utilizing it. "
              "Please specify a different port (such as using the `--main_process_port` flag or specifying a "
              "different `main_process_port` in your config file) and rerun your script. To automatically use "
              "the next open port (on a single node), you can set this to `0`.");
    EXPECT_EQ(plan_error({"--use_fsdp", "t.py"}),
              "nothing to launch: 0 process(es) per machine; pass --num_processes N (N >= 1) or run `accelerate "
              "config`");
}

TEST(LaunchPlan, FsdpBlockWithUpstreamCasing) {
    auto p = plan({"--use_fsdp", "--num_processes", "2", "--fsdp_offload_params", "True", "--fsdp_auto_wrap_policy",
                   "TRANSFORMER_BASED_WRAP", "--fsdp_transformer_layer_cls_to_wrap", "BertLayer", "t.py"});
    const auto& env = p.plan.workers[0].env;
    EXPECT_EQ(env.at("ACCELERATE_USE_FSDP"), "true");
    EXPECT_EQ(env.at("FSDP_OFFLOAD_PARAMS"), "true");
    EXPECT_EQ(env.at("FSDP_AUTO_WRAP_POLICY"), "TRANSFORMER_BASED_WRAP");
    EXPECT_EQ(env.at("FSDP_TRANSFORMER_CLS_TO_WRAP"), "BertLayer");
    EXPECT_EQ(env.at("FSDP_SHARDING_STRATEGY"), "FULL_SHARD");
    EXPECT_EQ(env.at("FSDP_MIN_NUM_PARAMS"), "100000000");
    EXPECT_EQ(env.count("FSDP_BACKWARD_PREFETCH"), 0u);
}

TEST(LaunchPlan, FsdpRamEfficientLoadingNeedsSyncedModuleStates) {
    auto facts = plan_host();
    EXPECT_EQ(plan_error({"--use_fsdp", "--num_processes", "2", "--fsdp_sync_module_states", "", "t.py"}),
              "When using `--fsdp_cpu_ram_efficient_loading` set `--fsdp_sync_module_states` to `True`");
}

TEST(LaunchPlan, MegatronBlock) {
    auto p = plan({"--use_megatron_lm", "--num_processes", "2", "--megatron_lm_tp_degree", "2",
                   "--megatron_lm_num_micro_batches", "4", "t.py"});
    const auto& env = p.plan.workers[0].env;
    EXPECT_EQ(env.at("ACCELERATE_USE_MEGATRON_LM"), "true");
    EXPECT_EQ(env.at("MEGATRON_LM_TP_DEGREE"), "2");
    EXPECT_EQ(env.at("MEGATRON_LM_PP_DEGREE"), "1");
    EXPECT_EQ(env.at("MEGATRON_LM_GRADIENT_CLIPPING"), "1.0");
    EXPECT_EQ(env.at("MEGATRON_LM_NO_LOAD_OPTIM"), "False");
    EXPECT_EQ(env.at("MEGATRON_LM_NUM_MICRO_BATCHES"), "4");
    EXPECT_EQ(env.count("MEGATRON_LM_RECOMPUTE_METHOD"), 0u);
}

TEST(LaunchPlan, Fp8VariablesOnlyWithFp8) {
    auto p = plan({"--multi_gpu", "--num_processes", "2", "--mixed_precision", "fp8", "--fp8_backend", "te", "t.py"});
    const auto& env = p.plan.workers[0].env;
    EXPECT_EQ(env.at("ACCELERATE_FP8_BACKEND"), "te");
    EXPECT_EQ(env.at("ACCELERATE_FP8_AMAX_HISTORY_LEN"), "1024");
    EXPECT_EQ(env.at("ACCELERATE_FP8_OVERRIDE_FPROP"), "False");
    EXPECT_EQ(env.at("ACCELERATE_FP8_ENABLE_FSDP_FLOAT8_ALL_GATHER"), "1");
    EXPECT_EQ(env.at("ACCELERATE_FP8_OPT_LEVEL"), "O2");
    auto plain = plan({"--multi_gpu", "--num_processes", "2", "--fp8_backend", "te", "t.py"});
    EXPECT_EQ(plain.plan.workers[0].env.count("ACCELERATE_FP8_BACKEND"), 0u);
    // Three values or nothing (upstream fails with an IndexError on fewer).
    EXPECT_EQ(plan_error({"--multi_gpu", "--num_processes", "2", "--mixed_precision", "fp8",
                          "--fp8_override_linear_precision", "true,false", "t.py"}),
              "--fp8_override_linear_precision takes three values (fprop,dgrad,wgrad), e.g. false,false,true; got 2");
    // From a config file: a string is indexed as upstream does ('abc': a, b, c); too few
    // values are named as the config's.
    const std::string cfg = "distributed_type: MULTI_GPU\nnum_processes: 2\nmixed_precision: fp8\nfp8_config:\n"
                            "  backend: TE\n  override_linear_precision: ";
    auto chars = plan({"t.py"}, plan_host(), cfg + "'abc'\n");
    EXPECT_EQ(chars.plan.workers[0].env.at("ACCELERATE_FP8_OVERRIDE_FPROP"), "a");
    EXPECT_EQ(chars.plan.workers[0].env.at("ACCELERATE_FP8_OVERRIDE_WGRAD"), "c");
    try {
        plan({"t.py"}, plan_host(), cfg + "[true]\n");
        ADD_FAILURE() << "accepted one value";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "fp8_config.override_linear_precision in the config file needs three values "
                                         "(fprop, dgrad, wgrad), e.g. [false, false, true]; got [True]");
    }
}

TEST(LaunchPlan, DeepSpeedSingleMachine) {
    auto p = plan({"t.py"}, plan_host(0, {{"PYTHONPATH", "/a::/b"}}),
                  "distributed_type: DEEPSPEED\nnum_processes: 2\nmixed_precision: bf16\n"
                  "deepspeed_config:\n  zero_stage: 2\n  offload_optimizer_device: CPU\n  gradient_clipping: 1.0\n");
    ASSERT_EQ(p.plan.kind, LauncherKind::torchrun);
    const auto& env = p.plan.workers[0].env;
    EXPECT_EQ(env.at("ACCELERATE_USE_DEEPSPEED"), "true");
    EXPECT_EQ(env.at("ACCELERATE_DEEPSPEED_ZERO_STAGE"), "2");
    EXPECT_EQ(env.at("ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE"), "cpu");
    EXPECT_EQ(env.at("ACCELERATE_GRADIENT_CLIPPING"), "1.0");
    EXPECT_EQ(env.at("ACCELERATE_CONFIG_DS_FIELDS"),
              "zero_stage,offload_optimizer_device,gradient_clipping,mixed_precision");
    EXPECT_EQ(env.at("PYTHONPATH"), "/a:/b:/work");
    EXPECT_EQ(env.at("ACCELERATE_MIXED_PRECISION"), "bf16");
    EXPECT_EQ(env.at("OMP_NUM_THREADS"), "1");
    EXPECT_EQ(env.count("ACCELERATE_DYNAMO_BACKEND"), 0u);
    // torchrun's banner for the OMP_NUM_THREADS it sets; none when the user set it.
    EXPECT_NE(p.plan.agent_warning.find("Setting OMP_NUM_THREADS environment variable for each process to be 1 in "
                                        "default"),
              std::string::npos);
    auto own = plan({"t.py"}, plan_host(0, {{"OMP_NUM_THREADS", "4"}}),
                    "distributed_type: DEEPSPEED\nnum_processes: 2\ndeepspeed_config:\n  zero_stage: 2\n");
    EXPECT_EQ(own.plan.agent_warning, "");
    // A lower-case omp_num_threads reaches torchrun upper-cased (patch_environment): set too.
    auto lower = plan({"t.py"}, plan_host(0, {{"omp_num_threads", "3"}}),
                      "distributed_type: DEEPSPEED\nnum_processes: 2\ndeepspeed_config:\n  zero_stage: 2\n");
    EXPECT_EQ(lower.plan.agent_warning, "");
    EXPECT_EQ(lower.plan.workers.at(0).env.at("OMP_NUM_THREADS"), "3");
    auto multi_gpu = plan({"--multi_gpu", "--num_processes", "2", "t.py"});
    EXPECT_EQ(multi_gpu.plan.agent_warning, "");  // accelerate sets OMP_NUM_THREADS there itself
}

TEST(LaunchPlan, GpuIdsBecomeCudaVisibleDevices) {
    auto p = plan({"--multi_gpu", "--num_processes", "2", "--gpu_ids", "0,1", "t.py"});
    EXPECT_EQ(p.plan.workers[0].env.at("CUDA_VISIBLE_DEVICES"), "0,1");
    auto all = plan({"--multi_gpu", "--num_processes", "2", "--gpu_ids", "all", "t.py"});
    EXPECT_EQ(all.plan.workers[0].env.count("CUDA_VISIBLE_DEVICES"), 0u);
}

TEST(LaunchPlan, NoPythonAndUnsupportedLaunchers) {
    auto p = plan({"--no_python", "./run.sh", "z"});
    EXPECT_EQ(p.plan.workers[0].argv, (std::vector<std::string>{"./run.sh", "z"}));
    EXPECT_NE(plan_error({"--tpu", "t.py"}).find("TPU launches"), std::string::npos);
}

TEST(LaunchPlan, DryRunShowsSourcesAndEveryRank) {
    auto p = plan({"--cpu", "--num_processes", "2", "--main_process_port", "29601", "t.py"});
    std::string out = format_dry_run(p.settings, p.resolution, p.plan);
    EXPECT_NE(out.find("num_processes                    2                    (flag)"), std::string::npos) << out;
    EXPECT_NE(out.find("mixed_precision                  'no'                 (default)"), std::string::npos) << out;
    EXPECT_NE(out.find("rank 1 (local_rank 1):"), std::string::npos) << out;
    EXPECT_NE(out.find("RANK=1"), std::string::npos) << out;
}

TEST(HostProbe, CudaVisibleDevicesIndicesAreReadAsCudaDoes) {
    const std::vector<std::string> four{"GPU-aa11", "GPU-aa22", "GPU-bb33", "GPU-cc44"};
    EXPECT_EQ(proc::count_visible_devices("0,1", four), 2);
    EXPECT_EQ(proc::count_visible_devices("3,2,1,0", four), 4);
    EXPECT_EQ(proc::count_visible_devices("", four), 0);
    EXPECT_EQ(proc::count_visible_devices("-1", four), 0);
    EXPECT_EQ(proc::count_visible_devices("0,-1,1", four), 1);      // a negative entry ends the list
    EXPECT_EQ(proc::count_visible_devices("0,7,1", four), 1);       // so does one the machine lacks
    EXPECT_EQ(proc::count_visible_devices("0,abc,1", four), 1);     // and one that is no number
    EXPECT_EQ(proc::count_visible_devices(" 0 , 1 ", four), 2);     // spaces around entries are ignored
    EXPECT_EQ(proc::count_visible_devices("0abc,+1,01", four), 0);  // strtoul: 0, 1, 1 again: named twice
    EXPECT_EQ(proc::count_visible_devices("0abc,+1", four), 2);
    EXPECT_EQ(proc::count_visible_devices("1,1", four), 0);         // a device named twice hides them all
    EXPECT_EQ(proc::count_visible_devices("0,9,0", four), 0);       // even after an index the machine lacks
    EXPECT_EQ(proc::count_visible_devices("0,GPU-aa11", four), 1);  // a UUID in an index list ends it
    EXPECT_EQ(proc::count_visible_devices("0", {}), 0);             // no GPUs
    EXPECT_EQ(proc::count_visible_devices("0000000001", four), 1);  // as many leading zeros as it takes
    EXPECT_EQ(proc::count_visible_devices("1,0000000001", four), 0);
    EXPECT_EQ(proc::count_visible_devices("0,99999999999999999999", four), 1);  // far past the last GPU
}

TEST(HostProbe, CudaVisibleDevicesUuidsMatchOneGpuByPrefix) {
    const std::vector<std::string> four{"GPU-aa11", "GPU-aa22", "GPU-bb33", "GPU-cc44"};
    EXPECT_EQ(proc::count_visible_devices("GPU-aa22,GPU-cc44", four), 2);
    EXPECT_EQ(proc::count_visible_devices("GPU-b,GPU-c", four), 2);         // a unique prefix names a GPU
    EXPECT_EQ(proc::count_visible_devices("GPU-bb33,GPU-aa,GPU-cc", four), 1);  // an ambiguous one ends the list
    EXPECT_EQ(proc::count_visible_devices("GPU-cc44,GPU-zz", four), 1);     // an unknown one too
    EXPECT_EQ(proc::count_visible_devices("GPU-cc44,1", four), 1);          // an index in a UUID list too
    EXPECT_EQ(proc::count_visible_devices("GPU-cc44,GPU-c", four), 0);      // the same GPU twice hides all
    EXPECT_EQ(proc::count_visible_devices("GPU-abc", {}), 0);               // no GPUs, no match
    // As the CUDA runtime counted them on an H100 (tests/gpu/gpu_checks.py, section visible).
    const std::vector<std::string> h100{"GPU-b61f784a-176c-3501-d365-e5b2b6f8095e"};
    EXPECT_EQ(proc::count_visible_devices("GPU-b61f784a", h100), 1);
    EXPECT_EQ(proc::count_visible_devices("GPU-b61f", h100), 1);
    EXPECT_EQ(proc::count_visible_devices("GPU-", h100), 1);
    EXPECT_EQ(proc::count_visible_devices("GPU-B61F784A", h100), 0);  // case matters
    EXPECT_EQ(proc::count_visible_devices(" GPU-b61f784a", h100), 0);  // and so does a space
    EXPECT_EQ(proc::count_visible_devices("MIG-bogus", four), 0);            // no MIG instance has that UUID
    const std::vector<std::string> migs{"MIG-0a0a", "MIG-1b1b"};
    EXPECT_EQ(proc::count_visible_devices("MIG-1,MIG-0a", four, migs), 2);
    EXPECT_EQ(proc::count_visible_devices("MIG-1,GPU-aa11", four, migs), 1);  // one kind per list
}

TEST(LaunchPlan, TorchrunPathUpperCasesLowerCaseLauncherVariablesAsUpstream) {
    auto p = plan({"--multi_gpu", "--num_processes", "2", "t.py"},
                  plan_host(0, {{"http_proxy", "http://p:3128"}, {"PATH", "/bin"}}));
    EXPECT_EQ(p.plan.workers[0].env.at("HTTP_PROXY"), "http://p:3128");
    EXPECT_EQ(p.plan.workers[0].env.count("PATH"), 0u);
    auto simple = plan({"t.py"}, plan_host(0, {{"http_proxy", "x"}}));
    EXPECT_EQ(simple.plan.workers[0].env.count("HTTP_PROXY"), 0u);
}

TEST(LaunchPlan, MpirunCommandForOpenMpiAndIntelMpi) {
    auto facts = plan_host();
    facts.mpi_launcher = [] { return std::make_optional(std::make_pair(std::string("mpirun"), std::string("Open MPI 4"))); };
    auto p = plan({"--cpu", "--num_processes", "4", "--mpirun_hostfile", "hosts", "t.py"}, facts);
    ASSERT_EQ(p.plan.kind, LauncherKind::mpirun);
    EXPECT_EQ(p.plan.workers[0].argv,
              (std::vector<std::string>{"mpirun", "--hostfile", "hosts", "--npernode", "4", "-n", "4",
                                        "--bind-to", "socket", "/usr/bin/python3", "t.py"}));
    facts.mpi_launcher = [] { return std::make_optional(std::make_pair(std::string("mpiexec"), std::string("Intel(R) MPI"))); };
    auto intel = plan({"--cpu", "--num_processes", "4", "--mpirun_hostfile", "hosts", "t.py"}, facts);
    EXPECT_EQ(intel.plan.workers[0].argv,
              (std::vector<std::string>{"mpiexec", "-f", "hosts", "-ppn", "4", "-n", "4", "/usr/bin/python3",
                                        "t.py"}));
}

TEST(LaunchPlan, MultiMachineRendezvousBackends) {
    std::vector<std::string> base = {"--multi_gpu", "--num_machines", "2", "--num_processes", "4", "--machine_rank",
                                     "1", "--main_process_ip", "10.0.0.1"};
    auto with = [&](std::vector<std::string> extra) {
        auto args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back("t.py");
        return args;
    };
    auto st = plan(with({}));
    EXPECT_TRUE(st.plan.notes.empty());
    auto c10d = plan(with({"--rdzv_backend", "c10d"}));
    ASSERT_EQ(c10d.plan.notes.size(), 1u);
    EXPECT_NE(c10d.plan.notes[0].find("static"), std::string::npos);
    EXPECT_EQ(c10d.plan.workers[0].env.at("RANK"), "2");
    try {
        plan(with({"--rdzv_backend", "etcd"}));
        FAIL() << "etcd accepted";
    } catch (const UsageError& e) {
        EXPECT_NE(std::string(e.what()).find("--rdzv_backend etcd"), std::string::npos);
    }
    // On one machine too: an unknown backend fails (as torchrun would), c10d changes nothing.
    EXPECT_NE(plan_error({"--multi_gpu", "--num_processes", "2", "--rdzv_backend", "bogus", "t.py"})
                  .find("--rdzv_backend bogus is not supported"),
              std::string::npos);
    auto one = plan({"--multi_gpu", "--num_processes", "2", "--rdzv_backend", "c10d", "t.py"});
    EXPECT_TRUE(one.plan.notes.empty() || one.plan.notes[0].find("c10d") == std::string::npos);
}

TEST(LaunchPlan, SlurmStepGivesTheMachineLayout) {
    // srun --nodes=2 --ntasks-per-node=1, second node.
    auto facts = plan_host(0, {{"SLURM_JOB_NODELIST", "gpu[07-08]"},
                               {"SLURM_NNODES", "2"},
                               {"SLURM_NODEID", "1"},
                               {"SLURM_PROCID", "1"},
                               {"SLURM_NTASKS", "2"}});
    auto p = plan({"--multi_gpu", "--num_processes", "4", "t.py"}, facts);
    EXPECT_EQ(p.plan.num_machines, 2);
    EXPECT_EQ(p.plan.machine_rank, 1);
    EXPECT_EQ(p.plan.workers[0].env.at("MASTER_ADDR"), "gpu07");
    EXPECT_EQ(p.plan.workers[0].env.at("GROUP_RANK"), "1");
    EXPECT_EQ(p.plan.workers[1].env.at("RANK"), "3");
    EXPECT_EQ(p.settings.origin("machine_rank"), Origin::environment);
    std::string report = format_dry_run(p.settings, p.resolution, p.plan);
    EXPECT_NE(report.find("gpu07"), std::string::npos);
}

TEST(LaunchPlan, Rtx40WithAnOldDriverGetsP2pAndIbDisabledAsUpstream) {
    EXPECT_FALSE(cuda_p2p_ib_supported({"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"}, "535.104.05"));
    EXPECT_TRUE(cuda_p2p_ib_supported({"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"}, "550.40.07"));
    EXPECT_TRUE(cuda_p2p_ib_supported({"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"}, "555.1"));
    EXPECT_TRUE(cuda_p2p_ib_supported({"NVIDIA GeForce RTX 4090"}, "535.104.05"));  // one GPU
    EXPECT_TRUE(cuda_p2p_ib_supported({"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"}, "535.104.05"));

    auto facts = plan_host(2, {{"NCCL_IB_DISABLE", "0"}});
    facts.p2p_ib_supported = [] { return false; };
    auto p = plan({"--multi_gpu", "--num_processes", "2", "t.py"}, facts);
    EXPECT_EQ(p.plan.workers[0].env.at("NCCL_P2P_DISABLE"), "1");
    EXPECT_EQ(p.plan.workers[0].env.count("NCCL_IB_DISABLE"), 0u);  // the user's own value stays
    EXPECT_NE(std::find(p.plan.notes.begin(), p.plan.notes.end(),
                        "Using RTX 4000 series which doesn't support faster communication speedups. Ensuring P2P and "
                        "IB communications are disabled."),
              p.plan.notes.end());
    auto cpu = plan({"--cpu", "--num_processes", "2", "t.py"}, facts);
    EXPECT_EQ(cpu.plan.workers[0].env.count("NCCL_P2P_DISABLE"), 0u);
}
