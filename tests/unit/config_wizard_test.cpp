#include "acc/config/wizard.hpp"

#include <deque>

#include <gtest/gtest.h>

#include "acc/config/serialize.hpp"
#include "acc/util/error.hpp"
#include "test_support.hpp"

using acc::Value;

using namespace acc::config;

namespace {

// Answers from a list; records every question, menu choices and message.
class FakePrompter : public Prompter {
  public:
    explicit FakePrompter(std::vector<std::string> answers) : m_answers(answers.begin(), answers.end()) {}
    int menu(const std::string& prompt, const std::vector<std::string>& choices, int default_index) override {
        asked.push_back("menu:" + prompt);
        menus.push_back(choices);
        std::string a = next(prompt);
        return a.empty() ? default_index : std::stoi(a);
    }
    std::string field(const std::string& prompt) override {
        asked.push_back(prompt);
        return next(prompt);
    }
    void say(const std::string& text) override { said.push_back(text); }

    std::vector<std::string> asked;
    std::vector<std::vector<std::string>> menus;
    std::vector<std::string> said;

  private:
    std::string next(const std::string& prompt) {
        if (m_answers.empty()) {
            throw InputEnded(prompt);
        }
        std::string a = m_answers.front();
        m_answers.pop_front();
        return a;
    }
    std::deque<std::string> m_answers;
};

Value run(std::vector<std::string> answers, FakePrompter** out = nullptr) {
    static FakePrompter* keep = nullptr;
    delete keep;
    keep = new FakePrompter(std::move(answers));
    if (out) {
        *out = keep;
    }
    WizardContext ctx;
    ctx.env.set("HOME", "/home/u");
    ctx.cwd = "/work/dir";
    return to_dict(run_wizard(*keep, ctx));
}

const Value& at(const Value& v, const std::string& k) {
    static Value absent = Value::string("<absent>");
    const Value* p = v.find(k);
    return p ? *p : absent;
}

}  // namespace

TEST(Wizard, EnterEverywhereIsSampleA) {
    FakePrompter* p = nullptr;
    Value d = run({"", "", "", "", "", "", "", ""}, &p);
    EXPECT_EQ(to_yaml(d),
              "compute_environment: LOCAL_MACHINE\ndebug: false\ndistributed_type: 'NO'\ndowncast_bf16: 'no'\n"
              "enable_cpu_affinity: false\ngpu_ids: all\nmachine_rank: 0\nmain_training_function: main\n"
              "mixed_precision: 'no'\nnum_machines: 1\nnum_processes: 1\nrdzv_backend: static\nsame_network: true\n"
              "tpu_env: []\ntpu_use_cluster: false\ntpu_use_sudo: false\nuse_cpu: false\n");
    EXPECT_EQ(p->asked.front(), "menu:In which compute environment are you running?");
    EXPECT_EQ(p->menus[1].size(), 11u);
    EXPECT_EQ(p->menus[1].back(), "TPU");
    EXPECT_EQ(p->asked[2],
              "Do you want to run your training on CPU only (even if a GPU / Apple Silicon / Ascend NPU device is "
              "available)? [yes/NO]:");
}

TEST(Wizard, BadAnswersAreAskedAgainWithAMessage) {
    FakePrompter* p = nullptr;
    // multi-CPU; machines "x" then 1; debug "y" (rejected, as upstream) then "no"; mpirun yes + hostfile.
    Value d = run({"0", "1", "x", "1", "y", "no", "yes", " ~/hosts ", "", "3", "0"}, &p);
    EXPECT_EQ(at(d, "num_processes"), Value::integer(3));
    EXPECT_EQ(at(d, "use_cpu"), Value::boolean(true));
    EXPECT_EQ(at(d, "mpirun_config"), Value::map({{"mpirun_hostfile", Value::string("/home/u/hosts")}}));
    EXPECT_EQ(at(d, "gpu_ids"), Value::string("<absent>"));
    EXPECT_EQ(p->said, (std::vector<std::string>{"Please enter an integer.", "Please enter yes or no."}));
}

TEST(Wizard, DeepSpeedStage3WithNvmeAndMultiNode) {
    FakePrompter* p = nullptr;
    Value d = run({"0", "4", "2", "1", "10.0.0.1", "29500", "", "",  // 2 machines, rank 1
                   "",                                                // dynamo
                   "yes", "", "3", "2", "2", "", "/opt/nvme",          // DS, stage 3, nvme both
                   "8", "yes", "0.5", "yes", "yes", "yes", "MixtralSparseMoeBlock",
                   "0", "/job/hostfile", "yes", "node9", "",          // pdsh, hostfile, exclusion, no inclusion
                   "16", "2"},
                  &p);
    EXPECT_EQ(at(d, "distributed_type"), Value::string("DEEPSPEED"));
    const Value& ds = at(d, "deepspeed_config");
    EXPECT_EQ(at(ds, "zero_stage"), Value::integer(3));
    EXPECT_EQ(at(ds, "offload_param_nvme_path"), Value::string("/nvme"));
    EXPECT_EQ(at(ds, "offload_optimizer_nvme_path"), Value::string("/opt/nvme"));
    EXPECT_EQ(at(ds, "gradient_clipping"), Value::real(0.5));
    EXPECT_EQ(at(ds, "zero3_save_16bit_model"), Value::boolean(true));
    EXPECT_EQ(at(ds, "zero3_init_flag"), Value::boolean(true));
    EXPECT_EQ(at(ds, "deepspeed_multinode_launcher"), Value::string("pdsh"));
    EXPECT_EQ(at(ds, "deepspeed_exclusion_filter"), Value::string("node9"));
    EXPECT_EQ(at(ds, "deepspeed_inclusion_filter"), Value::string("<absent>"));
    EXPECT_EQ(at(d, "gpu_ids"), Value::string("<absent>"));  // never asked after DeepSpeed
    EXPECT_EQ(at(d, "num_processes"), Value::integer(16));
    EXPECT_EQ(at(d, "machine_rank"), Value::integer(1));
    EXPECT_EQ(at(d, "main_process_port"), Value::integer(29500));
    EXPECT_EQ(p->menus[2], (std::vector<std::string>{"0", "1"}));  // the rank menu
}

TEST(Wizard, DeepSpeedJsonFileHasNoMixedPrecision) {
    Value d = run({"0", "0", "", "", "yes", "yes", "ds.json", "", "", "2"});
    EXPECT_EQ(at(d, "distributed_type"), Value::string("DEEPSPEED"));
    EXPECT_EQ(at(d, "mixed_precision"), Value::string("<absent>"));
    EXPECT_EQ(at(at(d, "deepspeed_config"), "deepspeed_config_file"), Value::string("ds.json"));
}

TEST(Wizard, FsdpVersion1AsksTheV1Questions) {
    FakePrompter* p = nullptr;
    Value d = run({"0", "4", "", "", "", "", "yes", "0", "1", "", "1", "", "", "", "", "", "no", "", "", "4", "2"}, &p);
    const Value& f = at(d, "fsdp_config");
    EXPECT_EQ(at(f, "fsdp_version"), Value::integer(1));
    EXPECT_EQ(at(f, "fsdp_reshard_after_forward"), Value::string("SHARD_GRAD_OP"));
    EXPECT_EQ(at(f, "fsdp_min_num_params"), Value::integer(100000000));
    EXPECT_EQ(at(f, "fsdp_backward_prefetch"), Value::string("BACKWARD_PRE"));
    EXPECT_EQ(at(f, "fsdp_use_orig_params"), Value::boolean(true));
    EXPECT_EQ(at(f, "fsdp_cpu_ram_efficient_loading"), Value::boolean(false));
    EXPECT_EQ(at(f, "fsdp_sync_module_states"), Value::boolean(true));  // asked, default YES
    EXPECT_EQ(at(d, "parallelism_config"), Value::string("<absent>"));
    for (const auto& q : p->asked) {
        EXPECT_EQ(q.find("parallelism config"), std::string::npos) << "v1 never asks about the parallelism config";
    }
}

TEST(Wizard, FsdpVersion2WithParallelismConfig) {
    Value d = run({"0", "4", "", "", "", "", "yes", "", "", "", "2", "", "", "",  // v2, NO_WRAP
                   "yes", "2", "2", "1", "2", "1", "8", "3", "1", "", "", "", "", "", "", ""});
    const Value& pc = at(d, "parallelism_config");
    EXPECT_EQ(at(pc, "parallelism_config_dp_replicate_size"), Value::integer(2));
    EXPECT_EQ(at(pc, "parallelism_config_cp_size"), Value::integer(2));
    EXPECT_EQ(at(pc, "parallelism_config_cp_comm_strategy"), Value::string("alltoall"));
    EXPECT_EQ(at(at(d, "fsdp_config"), "fsdp_auto_wrap_policy"), Value::string("NO_WRAP"));
    EXPECT_EQ(at(d, "mixed_precision"), Value::string("fp8"));
    EXPECT_EQ(at(at(d, "fp8_config"), "backend"), Value::string("TE"));
}

TEST(Wizard, MegatronAndFp8Msamp) {
    Value d = run({"0", "4", "", "", "", "", "", "yes", "2", "", "4", "8", "", "no", "0.0", "4", "3", "2", ""});
    EXPECT_EQ(at(d, "distributed_type"), Value::string("MEGATRON_LM"));
    const Value& m = at(d, "megatron_lm_config");
    EXPECT_EQ(at(m, "megatron_lm_tp_degree"), Value::integer(2));
    EXPECT_EQ(at(m, "megatron_lm_sequence_parallelism"), Value::boolean(true));
    EXPECT_EQ(at(m, "megatron_lm_num_micro_batches"), Value::integer(8));
    EXPECT_EQ(at(m, "megatron_lm_use_distributed_optimizer"), Value::boolean(false));
    EXPECT_EQ(at(m, "megatron_lm_gradient_clipping"), Value::real(0.0));
    EXPECT_EQ(at(d, "fp8_config"), Value::map({{"backend", Value::string("MSAMP")},
                                                {"optimization_level", Value::string("O2")}}));
}

TEST(Wizard, PathsAsPythonsOsPathReadsThem) {
    // mpirun's hostfile through os.path.expanduser, the TPU script through os.path.abspath.
    auto hostfile = [](const std::string& home, const std::string& typed) {
        FakePrompter p({"0", "1", "", "", "yes", typed, "", "", "0"});
        WizardContext ctx;
        ctx.env.set("HOME", home);
        ctx.cwd = "/work/dir";
        ctx.user_home = [](const std::string& user) -> std::optional<std::string> {
            return user == "root" ? std::optional<std::string>("/root") : std::nullopt;
        };
        return at(at(to_dict(run_wizard(p, ctx)), "mpirun_config"), "mpirun_hostfile");
    };
    EXPECT_EQ(hostfile("/home/u", "~root/x"), Value::string("/root/x"));
    EXPECT_EQ(hostfile("/home/u", "~nosuchuser/x"), Value::string("~nosuchuser/x"));
    EXPECT_EQ(hostfile("/", "~/h"), Value::string("/h"));
    EXPECT_EQ(hostfile("/", "~"), Value::string("/"));
    EXPECT_EQ(hostfile("/home/u/", "~"), Value::string("/home/u"));
    EXPECT_EQ(hostfile("/home/u", "x~/h"), Value::string("x~/h"));
    auto command_file = [](const std::string& typed) {
        FakePrompter p({"0", "10", "yes", "", "no", "4", "train_fn", "yes", "", "", "", "yes", "yes", typed, "", ""});
        WizardContext ctx;
        ctx.cwd = "/work/dir";
        return at(to_dict(run_wizard(p, ctx)), "command_file");
    };
    EXPECT_EQ(command_file("//x/s.sh"), Value::string("//x/s.sh"));  // POSIX keeps exactly two
    EXPECT_EQ(command_file("///x/s.sh"), Value::string("/x/s.sh"));
    EXPECT_EQ(command_file("a/../b/./s.sh"), Value::string("/work/dir/b/s.sh"));
    auto in_root = [](const std::string& typed) {
        FakePrompter p({"0", "10", "yes", "", "no", "4", "train_fn", "yes", "", "", "", "yes", "yes", typed, "", ""});
        WizardContext ctx;
        ctx.cwd = "/";  // a container's usual working folder
        return at(to_dict(run_wizard(p, ctx)), "command_file");
    };
    EXPECT_EQ(in_root("x"), Value::string("/x"));
    EXPECT_EQ(in_root(".."), Value::string("/"));
}

TEST(Wizard, TpuClusterWithCommandFile) {
    FakePrompter* p = nullptr;
    Value d = run({"0", "10", "yes", "", "no", "4", "train_fn", "yes", "", "", "", "yes", "yes", "../run.sh", "a,b",
                   "X=1,Y=2"},
                  &p);
    EXPECT_EQ(at(d, "distributed_type"), Value::string("XLA"));
    EXPECT_EQ(at(d, "main_training_function"), Value::string("train_fn"));
    EXPECT_EQ(at(d, "tpu_name"), Value::string(""));
    EXPECT_EQ(at(d, "tpu_use_sudo"), Value::boolean(false));
    EXPECT_EQ(at(d, "command_file"), Value::string("/work/run.sh"));
    EXPECT_EQ(at(d, "tpu_env"), Value::list({Value::string("X=1"), Value::string("Y=2")}));
    EXPECT_EQ(at(d, "dynamo_config"), Value::map({{"dynamo_backend", Value::string("INDUCTOR")}}));
    EXPECT_EQ(p->said.back().rfind("Torch dynamo used without mixed precision", 0), 0u);
    EXPECT_NE(std::find(p->asked.begin(), p->asked.end(), "How many XLA(s) should be used for distributed training? [1]:"),
              p->asked.end());
}

TEST(Wizard, MisspelledDynamoBackendIsStoredUnderTheEnumsName) {
    Value d = run({"0", "0", "yes", "yes", "11", "", "", "", ""});
    EXPECT_EQ(at(at(d, "dynamo_config"), "dynamo_backend"), Value::string("TORCHXLA_TRACE_ONCE"));
}

TEST(Wizard, MultiGpuWithOneProcessIsRefusedAsUpstreamDoes) {
    EXPECT_THROW(run({"0", "4", "", "", "", "", "", "", "1"}), acc::ConfigError);
}

TEST(Wizard, NeuronRefusesDeepSpeed) {
    EXPECT_THROW(run({"0", "9", "", "", "", "yes"}), acc::ConfigError);
}

TEST(Wizard, EndOfInputNamesTheQuestion) {
    try {
        run({"0", "4"});
        FAIL();
    } catch (const InputEnded& e) {
        EXPECT_NE(std::string(e.what()).find("How many different machines"), std::string::npos);
    }
}

TEST(Wizard, SageMakerDataParallel) {
    Value d = run({"1", "0", "", "eu-west-1", "0", "role", "yes", "MyImage", "", "", "1", "", "2", "yes", "3", "1"});
    EXPECT_EQ(at(d, "compute_environment"), Value::string("AMAZON_SAGEMAKER"));
    EXPECT_EQ(at(d, "distributed_type"), Value::string("DATA_PARALLEL"));
    EXPECT_EQ(at(d, "profile"), Value::string("default"));
    EXPECT_EQ(at(d, "image_uri"), Value::string("myimage"));
    EXPECT_EQ(at(d, "ec2_instance_type"), Value::string("ml.p4dn.24xlarge"));
    EXPECT_EQ(at(d, "num_machines"), Value::integer(3));
    EXPECT_EQ(at(d, "debug"), Value::boolean(true));
    EXPECT_EQ(at(d, "base_job_name"), Value::string("accelerate-sagemaker-1"));
}

TEST(Wizard, YesNoConverterIsUpstreams) {
    EXPECT_EQ(parse_yes_no("YES"), true);
    EXPECT_EQ(parse_yes_no("No"), false);
    EXPECT_EQ(parse_yes_no("y"), std::nullopt);
    EXPECT_EQ(parse_yes_no(" yes"), std::nullopt);
}
