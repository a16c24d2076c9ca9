#include "acc/config/config_commands.hpp"

#include <gtest/gtest.h>

#include "acc/config/serialize.hpp"
#include "acc/util/error.hpp"
#include "test_support.hpp"

using acc::Value;

using namespace acc::config;

namespace {

ConfigFile from_yaml(const std::string& text, const std::string& path = "c.yaml") {
    return make_config(parse_yaml(text, path), path);
}

}  // namespace

TEST(ConfigDefault, NoGpuIsCpuOnlyJson) {
    EXPECT_EQ(to_json(default_config_dict("no", 0)),
              "{\n  \"compute_environment\": \"LOCAL_MACHINE\",\n  \"debug\": false,\n  \"distributed_type\": \"NO\",\n"
              "  \"downcast_bf16\": false,\n  \"enable_cpu_affinity\": false,\n  \"machine_rank\": 0,\n"
              "  \"main_training_function\": \"main\",\n  \"mixed_precision\": \"no\",\n  \"num_machines\": 1,\n"
              "  \"num_processes\": 1,\n  \"rdzv_backend\": \"static\",\n  \"same_network\": false,\n"
              "  \"tpu_use_cluster\": false,\n  \"tpu_use_sudo\": false,\n  \"use_cpu\": true\n}\n");
}

TEST(ConfigDefault, GpuCounts) {
    Value one = default_config_dict("no", 1);
    EXPECT_EQ(*one.find("distributed_type"), Value::string("NO"));
    EXPECT_EQ(*one.find("use_cpu"), Value::boolean(false));
    Value two = default_config_dict("fp16", 2);
    EXPECT_EQ(*two.find("distributed_type"), Value::string("MULTI_GPU"));
    EXPECT_EQ(*two.find("num_processes"), Value::integer(2));
    EXPECT_EQ(*two.find("mixed_precision"), Value::string("fp16"));
    EXPECT_EQ(two.find("gpu_ids"), nullptr);
}

TEST(ConfigUpdate, LegacyKeysAreMigratedAndEmptiesDropped) {
    Value d = loaded_config_dict(from_yaml(
        "compute_environment: LOCAL_MACHINE\ndeepspeed_config: {}\ndistributed_type: MULTI_GPU\ndynamo_backend: "
        "INDUCTOR\nfp16: true\nmain_process_ip: null\nnum_processes: 2\n"));
    EXPECT_EQ(to_yaml(d),
              "compute_environment: LOCAL_MACHINE\ndebug: false\ndistributed_type: MULTI_GPU\ndowncast_bf16: false\n"
              "dynamo_config:\n  dynamo_backend: INDUCTOR\nenable_cpu_affinity: false\nmachine_rank: 0\n"
              "main_training_function: main\nmixed_precision: fp16\nnum_machines: 1\nnum_processes: 2\n"
              "rdzv_backend: static\nsame_network: false\ntpu_use_cluster: false\ntpu_use_sudo: false\n"
              "use_cpu: false\n");
}

TEST(ConfigUpdate, SampleCBecomesSampleE) {
    Value d = loaded_config_dict(from_yaml(to_json(default_config_dict("no", 1)), "default_config.yaml"));
    std::string y = to_yaml(d);
    EXPECT_NE(y.find("distributed_type: 'NO'\n"), std::string::npos);
    EXPECT_NE(y.find("downcast_bf16: false\n"), std::string::npos);
    EXPECT_EQ(y.find("gpu_ids"), std::string::npos);
    EXPECT_EQ(y.find("tpu_env"), std::string::npos);
}

TEST(ConfigUpdate, InvalidEnumsAndSageMakerRequirements) {
    EXPECT_THROW(loaded_config_dict(from_yaml("distributed_type: MULTI_WHAT\n")), acc::ConfigError);
    // Unquoted NO is YAML false; the shared loader reads it as meant, and it is not an error.
    EXPECT_NO_THROW(loaded_config_dict(from_yaml("distributed_type: NO\nnum_processes: 1\n")));
    EXPECT_THROW(loaded_config_dict(from_yaml("compute_environment: AMAZON_SAGEMAKER\ndistributed_type: NO\n")),
                 acc::ConfigError);
    Value s = loaded_config_dict(from_yaml("compute_environment: AMAZON_SAGEMAKER\ndistributed_type: DATA_PARALLEL\n"
                                           "ec2_instance_type: ml.p3.16xlarge\niam_role_name: r\n"));
    EXPECT_EQ(*s.find("gpu_ids"), Value::string("all"));
    EXPECT_EQ(*s.find("region"), Value::string("us-east-1"));
    EXPECT_EQ(s.find("num_processes"), nullptr);
}

TEST(ConfigEnv, ReportLayout) {
    EnvFacts f;
    f.native_version = "0.1.0";
    f.platform = "Linux-6.1-x86_64-with-glibc2.36";
    f.accelerate_location = "/usr/bin/accelerate";
    f.python_executable = "/usr/bin/python3";
    f.python_version = "3.11.2";
    f.torch_version = "2.1.0";
    f.torch_accelerator = "CUDA";
    f.device_type_line = "GPU type: NVIDIA H100";
    f.ram_bytes = 16.0 * 1024 * 1024 * 1024;
    f.config = Value::map({{"distributed_type", Value::string("NO")},
                           {"dynamo_config", Value::map({{"dynamo_use_dynamic", Value::boolean(false)}})},
                           {"tpu_env", Value::list({})}});
    std::string r = env_report(f);
    EXPECT_EQ(r.rfind("\nCopy-and-paste the text below in your GitHub issue\n\n", 0), 0u);
    EXPECT_NE(r.find("- System RAM: 16.00 GB\n"), std::string::npos);
    EXPECT_NE(r.find("- GPU type: NVIDIA H100\n"), std::string::npos);
    EXPECT_NE(r.find("- Numpy version: not installed\n"), std::string::npos);
    EXPECT_NE(r.find("- `Accelerate` default config:\n\t- distributed_type: NO\n"
                     "\t- dynamo_config: {'dynamo_use_dynamic': False}\n\t- tpu_env: []\n"),
              std::string::npos);
    f.config.reset();
    f.config_passed = true;
    EXPECT_NE(env_report(f).find("- `Accelerate` config passed:\n\tNot found\n"), std::string::npos);
}
