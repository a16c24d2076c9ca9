// The static rendezvous's pure parts: keys, role_info / assigned_ranks values as
// torch writes them, rank assignment (heterogeneous machines too), settings check,
// failure records; and the TCPStore client encoding against our own server's parser.
#include "acc/launch/rendezvous.hpp"

#include <gtest/gtest.h>

#include "acc/cli/launch_parser.hpp"
#include "acc/store/client_protocol.hpp"
#include "acc/store/protocol.hpp"
#include "acc/store/store_state.hpp"

using namespace acc;
using namespace acc::launch;

TEST(Rendezvous, KeysLiveUnderTheRunId) {
    RendezvousKeys k;
    EXPECT_EQ(k.role_info(1), "/none/torchelastic/role_info/1");
    EXPECT_EQ(k.assigned_ranks(0), "/none/torchelastic/assigned_ranks/0");
    EXPECT_EQ(k.exit_count(), "/none/torchelastic/agent/terminal_state/num_members");
    EXPECT_EQ(k.exit_last(), "/none/torchelastic/agent/terminal_state/last_member");
    EXPECT_EQ(k.failed(), "/none/accelerate/failed");
    RendezvousKeys j{"job7"};
    EXPECT_EQ(j.settings(2), "/job7/accelerate/settings/2");
    EXPECT_TRUE(j.is_agent_key("/job7/torchelastic/role_info/0"));
    EXPECT_TRUE(j.is_agent_key("/job7/accelerate/failed"));
    EXPECT_FALSE(j.is_agent_key("/default_pg/0//0"));
    EXPECT_FALSE(j.is_agent_key("init/"));
    EXPECT_FALSE(j.is_agent_key("/none/torchelastic/role_info/0"));
}

TEST(Rendezvous, RoleInfoIsPythonJsonDumps) {
    EXPECT_EQ(encode_role_info({"default", 1, 2}), R"({"role": "default", "rank": 1, "local_world_size": 2})");
    auto r = parse_role_info(R"({"role": "trainer", "rank": 3, "local_world_size": 8})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->role, "trainer");
    EXPECT_EQ(r->rank, 3);
    EXPECT_EQ(r->local_world_size, 8);
    // Compact spacing (another JSON writer) reads as well.
    EXPECT_TRUE(parse_role_info(R"({"role":"default","rank":0,"local_world_size":1})"));
    EXPECT_FALSE(parse_role_info("garbage"));
    EXPECT_FALSE(parse_role_info(R"({"role": "default", "rank": 0})"));
}

TEST(Rendezvous, AssignedRanksRoundTrip) {
    EXPECT_EQ(encode_assigned_ranks({2, 4, 2, 4}), "[2, 4, 2, 4]");
    EXPECT_EQ(parse_assigned_ranks("[2, 4, 2, 4]"), (AssignedRanks{2, 4, 2, 4}));
    EXPECT_EQ(parse_assigned_ranks("[0,8,0,8]"), (AssignedRanks{0, 8, 0, 8}));
    EXPECT_FALSE(parse_assigned_ranks("[1, 2, 3]"));
    EXPECT_FALSE(parse_assigned_ranks("[a, 2, 3, 4]"));
    EXPECT_FALSE(parse_assigned_ranks("1, 2, 3, 4"));
}

TEST(Rendezvous, HomogeneousAssignmentIsNodeRankTimesNproc) {
    auto a = assign_ranks({{"default", 0, 2}, {"default", 1, 2}});
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0], (AssignedRanks{0, 4, 0, 4}));
    EXPECT_EQ(a[1], (AssignedRanks{2, 4, 2, 4}));
}

TEST(Rendezvous, HeterogeneousMachinesGetPrefixSums) {
    auto a = assign_ranks({{"default", 0, 4}, {"default", 1, 1}, {"default", 2, 3}});
    EXPECT_EQ(a[0], (AssignedRanks{0, 8, 0, 8}));
    EXPECT_EQ(a[1], (AssignedRanks{4, 8, 4, 8}));
    EXPECT_EQ(a[2], (AssignedRanks{5, 8, 5, 8}));
}

TEST(Rendezvous, RolesCountedSeparately) {
    auto a = assign_ranks({{"a", 0, 2}, {"b", 1, 3}, {"a", 2, 2}});
    EXPECT_EQ(a[0], (AssignedRanks{0, 7, 0, 4}));
    EXPECT_EQ(a[1], (AssignedRanks{2, 7, 0, 3}));
    EXPECT_EQ(a[2], (AssignedRanks{5, 7, 2, 4}));
}

TEST(Rendezvous, ApplyAssignedRanksRewritesWorkerEnv) {
    LaunchPlan plan;
    for (int lr = 0; lr < 3; ++lr) {
        WorkerSpec w;
        w.local_rank = lr;
        w.rank = 99;
        plan.workers.push_back(w);
    }
    apply_assigned_ranks(plan, {5, 8, 5, 8});
    EXPECT_EQ(plan.workers[2].rank, 7);
    EXPECT_EQ(plan.workers[2].env["RANK"], "7");
    EXPECT_EQ(plan.workers[0].env["ROLE_RANK"], "5");
    EXPECT_EQ(plan.workers[1].env["WORLD_SIZE"], "8");
    EXPECT_EQ(plan.workers[1].env["ROLE_WORLD_SIZE"], "8");
}

TEST(Rendezvous, MachineSettingsComparedOnMachineZero) {
    auto s = cli::parse_launch_args({"--num_processes", "4", "--num_machines", "2", "--mixed_precision", "bf16",
                                     "/home/me/train.py"})
                 .settings;
    MachineSettings m0 = machine_settings(s, 0);
    EXPECT_EQ(m0.script, "train.py");
    auto back = parse_machine_settings(encode_machine_settings(m0), 0);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->mixed_precision, "bf16");
    EXPECT_EQ(back->num_processes, "4");
    MachineSettings m1 = m0;
    m1.machine_rank = 1;
    m1.script = "train.py";  // another folder, same script: fine
    EXPECT_FALSE(compare_machine_settings({m0, m1}));
    MachineSettings m2 = m0;
    m2.machine_rank = 2;
    m2.num_processes = "8";
    m2.mixed_precision = "fp16";
    auto diff = compare_machine_settings({m0, m1, m2});
    ASSERT_TRUE(diff);
    EXPECT_NE(diff->find("num_processes 4 on machine 0, but machine 2 has 8"), std::string::npos) << *diff;
    EXPECT_NE(diff->find("mixed_precision bf16 on machine 0, but machine 2 has fp16"), std::string::npos) << *diff;
    EXPECT_EQ(diff->find('\n'), std::string::npos);
}

TEST(Rendezvous, FailureRecords) {
    EXPECT_EQ(encode_failure({1, 3, "exited with status 3"}), "1 3 exited with status 3");
    auto f = parse_failure("1 3 exited with status 3");
    EXPECT_EQ(f.machine_rank, 1);
    ASSERT_TRUE(f.rank);
    EXPECT_EQ(*f.rank, 3);
    EXPECT_EQ(describe_failure(f), "machine 1 rank 3 failed (exited with status 3)");
    auto g = parse_failure(encode_failure({0, std::nullopt, "its launcher received SIGINT"}));
    EXPECT_FALSE(g.rank);
    EXPECT_FALSE(g.benign);
    EXPECT_EQ(describe_failure(g), "machine 0: its launcher received SIGINT");
    auto h = parse_failure(encode_failure({0, std::nullopt, "finished", true}));
    EXPECT_TRUE(h.benign);
    EXPECT_EQ(parse_failure("garbage").machine_rank, -1);
    EXPECT_EQ(machine_list({2}), "machine 2");
    EXPECT_EQ(machine_list({1, 3}), "machines 1, 3");
}

// The client's requests, fed to our server's parser and state, give torch's replies.
TEST(StoreClientProtocol, RequestsParseAndRepliesDecode) {
    using namespace acc::store;
    std::string bytes = encode_validate() + encode_ping(1234) + encode_set("/k", "v") + encode_get("/k") +
                        encode_add("c", 5) + encode_check({"/k", "/missing"}) + encode_multi_set({"/a", "/b"}, {"1", "2"}) +
                        encode_multi_get({"/a", "/b"}) + encode_wait({"/k"}) + encode_delete_key("/a");
    EXPECT_EQ(detect_dialect(bytes), Dialect::current);
    StoreState state;
    std::string replies;
    size_t off = 0;
    std::vector<Op> ops;
    while (off < bytes.size()) {
        Parsed p = parse_request(std::string_view(bytes).substr(off), Dialect::current);
        ASSERT_EQ(p.status, ParseStatus::ok);
        off += p.consumed;
        ops.push_back(p.request.op);
        for (auto& r : state.apply(1, p.request)) {
            replies += r.bytes;
        }
    }
    EXPECT_EQ(ops, (std::vector<Op>{Op::validate, Op::ping, Op::set, Op::get, Op::add, Op::check, Op::multi_set,
                                    Op::multi_get, Op::wait, Op::delete_key}));
    size_t n = 0;
    std::string_view r(replies);
    EXPECT_EQ(decode_u32(r, n), 1234u);
    r.remove_prefix(n);
    EXPECT_EQ(decode_bytes(r, n), "v");
    r.remove_prefix(n);
    EXPECT_EQ(decode_i64(r, n), 5);
    r.remove_prefix(n);
    EXPECT_EQ(decode_u8(r, n), k_reply_not_ready);
    r.remove_prefix(n);
    EXPECT_EQ(decode_bytes(r, n), "1");
    r.remove_prefix(n);
    EXPECT_EQ(decode_bytes(r, n), "2");
    r.remove_prefix(n);
    EXPECT_EQ(decode_u8(r, n), k_reply_ready);
    r.remove_prefix(n);
    EXPECT_EQ(decode_i64(r, n), 1);
    r.remove_prefix(n);
    EXPECT_TRUE(r.empty());
}

TEST(StoreClientProtocol, IncompleteAndOversizedReplies) {
    using namespace acc::store;
    size_t n = 0;
    EXPECT_FALSE(decode_u8("", n));
    EXPECT_FALSE(decode_i64(std::string(7, '\0'), n));
    std::string partial;
    put_bytes(partial, "hello");
    EXPECT_FALSE(decode_bytes(std::string_view(partial).substr(0, 10), n));
    EXPECT_EQ(decode_bytes(partial, n), "hello");
    EXPECT_EQ(n, 13u);
    std::string huge;
    put_i64(huge, 1ll << 40);
    EXPECT_THROW(decode_bytes(huge, n), std::length_error);
}

TEST(LostMachine, OnlyAnUnannouncedDepartureOfAMachinesLinkStopsTheJob) {
    RendezvousKeys keys{"job"};
    std::set<std::string> present;
    auto has = [&present](const std::string& k) { return present.count(k) != 0; };
    // Not a launcher's link (a worker's counters, the init key): nothing.
    EXPECT_FALSE(lost_machine_failure(keys, {"init/", "/job/counter"}, has));
    // Machine 2's link, gone while it ran: the failure record names it.
    auto f = lost_machine_failure(keys, {"init/", keys.claim(2), keys.alive(2)}, has);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->first, keys.failed());
    const auto record = parse_failure(f->second);
    EXPECT_EQ(record.machine_rank, 2);
    EXPECT_FALSE(record.rank);
    EXPECT_NE(describe_failure(record).find("machine 2: its launcher went away"), std::string::npos);
    // Gone after reaching the exit barrier, or after a failure was recorded: nothing.
    present.insert(keys.exited(2));
    EXPECT_FALSE(lost_machine_failure(keys, {keys.alive(2)}, has));
    present.clear();
    present.insert(keys.failed());
    EXPECT_FALSE(lost_machine_failure(keys, {keys.alive(2)}, has));
    // Another run's keys are not this job's.
    present.clear();
    EXPECT_FALSE(lost_machine_failure(keys, {RendezvousKeys{"other"}.alive(1)}, has));
}
