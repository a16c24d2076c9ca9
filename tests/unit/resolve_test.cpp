// Merge and default rules of upstream's _validate_launch_command, with faked hardware.
#include "acc/launch/resolve.hpp"

#include <gtest/gtest.h>

#include "acc/cli/launch_parser.hpp"
#include "acc/launch/launch_plan.hpp"
#include "acc/util/error.hpp"
#include "test_support.hpp"

using namespace acc;
using namespace acc::launch;

namespace {

using test::fake_host;

struct Resolved {
    LaunchSettings settings;
    Resolution resolution;
};

Resolved resolve(std::vector<std::string> args, const HostFacts& facts, const std::string& yaml = "") {
    Resolved r;
    r.settings = cli::parse_launch_args(args).settings;
    check_flag_conflicts(r.settings);
    std::optional<config::ConfigFile> cfg;
    if (!yaml.empty()) {
        cfg = config::make_config(config::parse_yaml(yaml, "cfg.yaml"), "cfg.yaml");
    }
    r.resolution = resolve_settings(r.settings, cfg, facts);
    return r;
}

std::string error_of(std::vector<std::string> args, const HostFacts& facts, const std::string& yaml = "") {
    try {
        resolve(args, facts, yaml);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

const char* const k_seed_config =
    "compute_environment: LOCAL_MACHINE\n"
    "distributed_type: MULTI_GPU\n"
    "mixed_precision: fp16\n"
    "num_machines: 1\n"
    "num_processes: 2\n"
    "use_cpu: false\n";

}  // namespace

TEST(Resolve, NoConfigNoGpuUsesZeroProcessesAndWarnsLikeUpstream) {
    auto r = resolve({"t.py"}, fake_host(0));
    EXPECT_EQ(r.settings.get("num_processes"), Value::integer(0));
    EXPECT_EQ(r.settings.origin("num_processes"), Origin::hardware);
    EXPECT_EQ(format_default_warning(r.resolution.default_warnings),
              "The following values were not passed to `accelerate launch` and had defaults used instead:\n"
              "\t`--num_processes` was set to a value of `0`\n"
              "\t`--num_machines` was set to a value of `1`\n"
              "\t`--mixed_precision` was set to a value of `'no'`\n"
              "\t`--dynamo_backend` was set to a value of `'no'`\n"
              "To avoid this warning pass in values for each of the problematic parameters or run `accelerate config`.");
    EXPECT_FALSE(r.settings.truthy("multi_gpu"));
}

TEST(Resolve, OneGpuGivesOneSimpleProcess) {
    auto facts = fake_host(1);
    auto r = resolve({"t.py"}, facts);
    EXPECT_EQ(r.settings.get("num_processes"), Value::integer(1));
    auto plan = plan_launch(r.settings, r.resolution, facts);
    EXPECT_EQ(plan.kind, LauncherKind::simple);
    ASSERT_EQ(plan.workers.size(), 1u);
}

TEST(Resolve, TwoGpusEnableMultiGpuWithUpstreamsWarning) {
    auto facts = fake_host(2);
    auto r = resolve({"t.py"}, facts);
    EXPECT_TRUE(r.settings.truthy("multi_gpu"));
    EXPECT_EQ(r.resolution.default_warnings.at(1),
              "\t\tMore than one GPU was found, enabling multi-GPU training.\n"
              "\t\tIf this was unintended please pass in `--num_processes=1`.");
    auto plan = plan_launch(r.settings, r.resolution, facts);
    EXPECT_EQ(plan.kind, LauncherKind::torchrun);
    EXPECT_EQ(plan.workers.size(), 2u);
}

TEST(Resolve, EightGpusStartEightWorkersUnlessOneIsAsked) {
    auto facts = fake_host(8);
    auto r = resolve({"t.py"}, facts);
    auto plan = plan_launch(r.settings, r.resolution, facts);
    ASSERT_EQ(plan.workers.size(), 8u);
    EXPECT_EQ(plan.workers[7].env.at("RANK"), "7");
    EXPECT_EQ(plan.workers[7].env.at("WORLD_SIZE"), "8");

    auto one = resolve({"--num_processes=1", "t.py"}, facts);
    EXPECT_FALSE(one.settings.truthy("multi_gpu"));
    EXPECT_EQ(plan_launch(one.settings, one.resolution, facts).kind, LauncherKind::simple);
}

TEST(Resolve, MoreThanOneGpuFiresEvenWithCpu) {
    // Upstream quirk: harmless because the launcher choice checks --cpu first.
    auto facts = fake_host(2);
    auto r = resolve({"--cpu", "--num_processes", "2", "t.py"}, facts);
    EXPECT_TRUE(r.settings.truthy("multi_gpu"));
    EXPECT_EQ(plan_launch(r.settings, r.resolution, facts).kind, LauncherKind::multi_cpu);
}

TEST(Resolve, CpuThreadHeuristicUsesPhysicalCoresPerLocalProcess) {
    auto r = resolve({"--cpu", "--num_processes", "2", "t.py"}, fake_host(0, {}, 8));
    EXPECT_EQ(r.settings.get("num_cpu_threads_per_process"), Value::integer(4));
    EXPECT_EQ(r.resolution.default_warnings.back(),
              "\t`--num_cpu_threads_per_process` was set to `4` to improve out-of-box performance when training on "
              "CPUs");
    auto with_omp = resolve({"--cpu", "--num_processes", "2", "t.py"}, fake_host(0, {{"OMP_NUM_THREADS", "3"}}, 8));
    EXPECT_EQ(with_omp.settings.get("num_cpu_threads_per_process"), Value::integer(3));
}

TEST(Resolve, ConfigValuesFillOnlyWhatTheCommandLineLeftOpen) {
    auto r = resolve({"--mixed_precision", "no", "--num_processes", "3", "t.py"}, fake_host(0), k_seed_config);
    EXPECT_EQ(r.settings.get("num_processes"), Value::integer(3));
    EXPECT_EQ(r.settings.get("mixed_precision"), Value::string("no"));
    EXPECT_TRUE(r.settings.truthy("multi_gpu"));
    EXPECT_TRUE(r.resolution.default_warnings.empty());
    EXPECT_FALSE(r.resolution.mixed_precision_from_config);

    auto c = resolve({"t.py"}, fake_host(0), k_seed_config);
    EXPECT_EQ(c.settings.get("mixed_precision"), Value::string("fp16"));
    EXPECT_EQ(c.settings.origin("mixed_precision"), Origin::config_file);
    EXPECT_TRUE(c.resolution.mixed_precision_from_config);
    EXPECT_EQ(c.settings.get("machine_rank"), Value::integer(0));  // ClusterConfig default
}

TEST(Resolve, ConfigDictEntriesOverrideCliDefaultsButNotTypedFlags) {
    std::string yaml = std::string(k_seed_config) +
                       "fsdp_config:\n  fsdp_version: 2\n  sharding_strategy: SHARD_GRAD_OP\n"
                       "fp8_config:\n  amax_history_length: 16\n";
    auto r = resolve({"t.py"}, fake_host(0), yaml);
    EXPECT_EQ(r.settings.get("fsdp_version"), Value::integer(2));
    EXPECT_EQ(r.settings.get("fsdp_sharding_strategy"), Value::string("SHARD_GRAD_OP"));
    EXPECT_EQ(r.settings.get("fp8_amax_history_length"), Value::integer(16));
    auto typed = resolve({"--fsdp_version", "1", "t.py"}, fake_host(0), yaml);
    EXPECT_EQ(typed.settings.get("fsdp_version"), Value::string("1"));
}

TEST(Resolve, ScalarsWithNonNoneCliDefaultsNeverComeFromTheConfig) {
    std::string yaml = std::string(k_seed_config) + "rdzv_backend: c10d\nsame_network: true\nenable_cpu_affinity: true\n";
    auto r = resolve({"t.py"}, fake_host(0), yaml);
    EXPECT_EQ(r.settings.get("rdzv_backend"), Value::string("static"));
    EXPECT_EQ(r.settings.get("same_network"), Value::boolean(false));
    EXPECT_EQ(r.settings.get("enable_cpu_affinity"), Value::boolean(false));
}

TEST(Resolve, DistributedTypeSelectsTheParadigmUnlessAFlagDoes) {
    auto ds = resolve({"t.py"}, fake_host(0), "distributed_type: DEEPSPEED\nnum_processes: 2\n");
    EXPECT_TRUE(ds.settings.truthy("use_deepspeed"));
    EXPECT_FALSE(ds.settings.truthy("multi_gpu"));
    auto flag = resolve({"--use_fsdp", "t.py"}, fake_host(0), "distributed_type: DEEPSPEED\nnum_processes: 2\n");
    EXPECT_TRUE(flag.settings.truthy("use_fsdp"));
    EXPECT_FALSE(flag.settings.truthy("use_deepspeed"));
}

TEST(Resolve, UnquotedNoInAConfigIsReadAsMeant) {
    auto r = resolve({"t.py"}, fake_host(0),
                     "compute_environment: LOCAL_MACHINE\ndistributed_type: NO\nmixed_precision: no\n");
    EXPECT_EQ(r.resolution.distributed_type, "NO");
    EXPECT_EQ(r.settings.get("mixed_precision"), Value::string("no"));
    EXPECT_EQ(r.settings.get("num_processes"), Value::integer(1));
}

TEST(Resolve, ErrorMessages) {
    EXPECT_EQ(error_of({"--cpu", "--multi_gpu", "t.py"}, fake_host(0)),
              "You can only use one of `--cpu`, `--multi_gpu`, `--tpu`, `--use_deepspeed`, `--use_fsdp` at a time.");
    EXPECT_EQ(error_of({"--multi_gpu", "--num_processes", "1", "t.py"}, fake_host(0)),
              "You need to use at least 2 processes to use `--multi_gpu`.");
    EXPECT_EQ(error_of({"--use_parallelism_config", "t.py"}, fake_host(0)),
              "You cannot use `--use_parallelism_config` without `--use_fsdp` and `--fsdp_version=2`.");
    EXPECT_EQ(error_of({"-m", "--no_python", "t.py"}, fake_host(0)),
              "--module and --no_python cannot be used together");
    EXPECT_EQ(error_of({"t.py"}, fake_host(0), "distributed_type: MULTI_GPU\n"),
              "You need to manually pass in `--num_processes` using this config yaml.");
    EXPECT_EQ(error_of({"t.py"}, fake_host(0), "distributed_type: MULTI_GPU\nnum_processes: 2\ngpu_ids: '0'\n"),
              "Less than two GPU ids were configured and tried to run on multiple GPUs. Please ensure at least two "
              "are specified for `--gpu_ids`, or use `--gpu_ids='all'`.");
    EXPECT_EQ(error_of({"t.py"}, fake_host(0), "distributed_type: MULTI_WHATEVER\nnum_processes: 2\n"),
              "cfg.yaml: distributed_type 'MULTI_WHATEVER' is not valid; choose one of NO, MULTI_CPU, MULTI_GPU, "
              "MULTI_NPU, MULTI_MLU, MULTI_SDAA, MULTI_MUSA, MULTI_XPU, DEEPSPEED, FSDP, XLA, MEGATRON_LM, "
              "MULTI_HPU, MULTI_NEURON");
    EXPECT_EQ(error_of({"t.py"}, fake_host(0, {{"OMP_NUM_THREADS", "lots"}})),
              "environment variable OMP_NUM_THREADS='lots' is not an integer; unset it or give a number");
}

TEST(Resolve, DefaultConfigIsSkippedWithCpuButAnExplicitOneIsNot) {
    Environment env(std::map<std::string, std::string>{{"HF_HOME", "/hf"}});
    auto cpu = cli::parse_launch_args({"--cpu", "t.py"}).settings;
    EXPECT_FALSE(config_path_to_load(cpu, env, true));
    auto plain = cli::parse_launch_args({"t.py"}).settings;
    EXPECT_EQ(config_path_to_load(plain, env, true), "/hf/accelerate/default_config.yaml");
    EXPECT_FALSE(config_path_to_load(plain, env, false));
    auto explicit_file = cli::parse_launch_args({"--cpu", "--config_file", "my.yaml", "t.py"}).settings;
    EXPECT_EQ(config_path_to_load(explicit_file, env, false), "my.yaml");
}
