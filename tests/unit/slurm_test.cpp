// SLURM allocations: node lists as SLURM writes them, and the machine layout they give.
#include "acc/launch/slurm.hpp"

#include <gtest/gtest.h>

#include "acc/cli/launch_parser.hpp"
#include "acc/util/error.hpp"

using namespace acc;
using namespace acc::launch;

using Hosts = std::vector<std::string>;

TEST(SlurmNodelist, Shapes) {
    EXPECT_EQ(expand_nodelist("node1"), (Hosts{"node1"}));
    EXPECT_EQ(expand_nodelist("a,b"), (Hosts{"a", "b"}));
    EXPECT_EQ(expand_nodelist("gpu[01-04,07]"), (Hosts{"gpu01", "gpu02", "gpu03", "gpu04", "gpu07"}));
    EXPECT_EQ(expand_nodelist("n[1-3]-ib"), (Hosts{"n1-ib", "n2-ib", "n3-ib"}));
    EXPECT_EQ(expand_nodelist("gpu[8-10]"), (Hosts{"gpu8", "gpu9", "gpu10"}));
    EXPECT_EQ(expand_nodelist("c[098-101]"), (Hosts{"c098", "c099", "c100", "c101"}));
    EXPECT_EQ(expand_nodelist("cn[1-2],gpu[5,7],login-3"), (Hosts{"cn1", "cn2", "gpu5", "gpu7", "login-3"}));
    EXPECT_EQ(expand_nodelist("r[1-2]n[1-2]"), (Hosts{"r1n1", "r1n2", "r2n1", "r2n2"}));
    EXPECT_EQ(expand_nodelist("host-1.cluster.org,host-2.cluster.org"),
              (Hosts{"host-1.cluster.org", "host-2.cluster.org"}));
}

TEST(SlurmNodelist, MalformedListsAreErrors) {
    EXPECT_THROW(expand_nodelist("gpu[01-04"), Error);
    EXPECT_THROW(expand_nodelist("gpu01-04]"), Error);
    EXPECT_THROW(expand_nodelist("gpu[4-1]"), Error);
    EXPECT_THROW(expand_nodelist("gpu[a-b]"), Error);
    EXPECT_THROW(expand_nodelist(""), Error);
}

namespace {

// What srun --nodes=4 --ntasks-per-node=1 sets on the third node (recorded from a SLURM 23 cluster).
std::map<std::string, std::string> srun_env(const std::string& node_id = "2") {
    return {
        {"SLURM_JOB_ID", "48213"},
        {"SLURM_JOB_NODELIST", "gpu[01-04]"},
        {"SLURM_NODELIST", "gpu[01-04]"},
        {"SLURM_STEP_NODELIST", "gpu[01-04]"},
        {"SLURM_JOB_NUM_NODES", "4"},
        {"SLURM_NNODES", "4"},
        {"SLURM_NODEID", node_id},
        {"SLURM_PROCID", node_id},
        {"SLURM_LOCALID", "0"},
        {"SLURM_NTASKS", "4"},
        {"SLURM_STEP_NUM_TASKS", "4"},
        {"SLURM_TASKS_PER_NODE", "1(x4)"},
        {"SLURMD_NODENAME", "gpu03"},
    };
}

}  // namespace

TEST(SlurmStep, SrunOneTaskPerNode) {
    auto step = slurm_step(Environment(srun_env()));
    ASSERT_TRUE(step);
    EXPECT_EQ(step->nnodes, 4);
    EXPECT_EQ(step->node_id, 2);
    EXPECT_EQ(step->hosts.front(), "gpu01");
    EXPECT_EQ(step->hosts.size(), 4u);
}

TEST(SlurmStep, OutsideSlurmNothing) {
    EXPECT_FALSE(slurm_step(Environment(std::map<std::string, std::string>{{"HOME", "/root"}})));
    // Part of the set (e.g. a leftover SLURM_JOB_NODELIST): not an allocation we use.
    EXPECT_FALSE(slurm_step(Environment(std::map<std::string, std::string>{{"SLURM_JOB_NODELIST", "a,b"}})));
}

TEST(SlurmStep, StepNodelistWinsOverTheJobs) {
    // srun -N2 inside a 4-node job: the step runs on gpu[03-04].
    auto env = srun_env("1");
    env["SLURM_NNODES"] = "2";
    env["SLURM_STEP_NODELIST"] = "gpu[03-04]";
    env["SLURM_STEP_NUM_TASKS"] = "2";
    auto step = slurm_step(Environment(env));
    ASSERT_TRUE(step);
    EXPECT_EQ(step->hosts, (Hosts{"gpu03", "gpu04"}));
}

TEST(SlurmApply, FillsLayoutUnlessGiven) {
    auto s = cli::parse_launch_args({"--multi_gpu", "--num_processes", "16", "train.py"}).settings;
    apply_slurm(s, Environment(srun_env()));
    EXPECT_EQ(s.get_int("num_machines"), 4);
    EXPECT_EQ(s.get_int("machine_rank"), 2);
    EXPECT_EQ(s.str("main_process_ip"), "gpu01");
    EXPECT_EQ(s.origin("num_machines"), Origin::environment);
    EXPECT_EQ(s.origin("main_process_ip"), Origin::environment);

    auto given = cli::parse_launch_args({"--multi_gpu", "--num_processes", "16", "--main_process_ip", "10.0.0.5",
                                         "--machine_rank", "0", "train.py"})
                     .settings;
    apply_slurm(given, Environment(srun_env()));
    EXPECT_EQ(given.str("main_process_ip"), "10.0.0.5");
    EXPECT_EQ(given.get_int("machine_rank"), 0);
    EXPECT_EQ(given.origin("machine_rank"), Origin::flag);
    EXPECT_EQ(given.get_int("num_machines"), 4);
}

TEST(SlurmApply, SingleNodeAllocationChangesNothing) {
    auto env = srun_env("0");
    env["SLURM_NNODES"] = "1";
    env["SLURM_JOB_NODELIST"] = env["SLURM_STEP_NODELIST"] = "gpu07";
    env["SLURM_NTASKS"] = env["SLURM_STEP_NUM_TASKS"] = "1";
    auto s = cli::parse_launch_args({"train.py"}).settings;
    apply_slurm(s, Environment(env));
    EXPECT_TRUE(s.is_none("num_machines"));
    EXPECT_TRUE(s.is_none("main_process_ip"));
}

TEST(SlurmApply, SeveralTasksPerNodeIsAnError) {
    // srun --ntasks-per-node=8: eight launchers per node would each start all workers.
    auto env = srun_env("0");
    env["SLURM_NTASKS"] = env["SLURM_STEP_NUM_TASKS"] = "32";
    auto s = cli::parse_launch_args({"train.py"}).settings;
    try {
        apply_slurm(s, Environment(env));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("--ntasks-per-node=1"), std::string::npos) << e.what();
    }
}
