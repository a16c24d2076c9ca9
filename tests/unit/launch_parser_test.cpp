#include "acc/cli/launch_parser.hpp"

#include "acc/cli/launch_flags.hpp"

#include <gtest/gtest.h>

#include "acc/util/error.hpp"

using acc::UsageError;
using acc::Value;
using acc::cli::parse_launch_args;

namespace {

acc::launch::LaunchSettings parse(std::vector<std::string> args) {
    return parse_launch_args(args).settings;
}

std::string usage_error(std::vector<std::string> args) {
    try {
        parse_launch_args(args);
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(LaunchParser, HyphenAndUnderscoreSpellingsAndEqualsForm) {
    auto s = parse({"--num-processes=2", "--mixed_precision", "fp16", "--gpu-ids", "0,1", "t.py"});
    EXPECT_EQ(s.get("num_processes"), Value::integer(2));
    EXPECT_EQ(s.get("mixed_precision"), Value::string("fp16"));
    EXPECT_EQ(s.get("gpu_ids"), Value::string("0,1"));
    EXPECT_EQ(s.training_script, "t.py");
}

TEST(LaunchParser, ScriptArgumentsAreKeptVerbatimEvenWhenTheyLookLikeFlags) {
    auto s = parse({"--cpu", "t.py", "--num_processes", "3", "-h", "--", "x y"});
    EXPECT_EQ(s.training_script, "t.py");
    EXPECT_EQ(s.training_script_args, (std::vector<std::string>{"--num_processes", "3", "-h", "--", "x y"}));
    EXPECT_TRUE(s.is_none("num_processes"));
}

TEST(LaunchParser, BareDoubleDashBeforeTheScriptIsDropped) {
    auto s = parse({"--cpu", "--", "t.py", "a"});
    EXPECT_EQ(s.training_script, "t.py");
    EXPECT_EQ(s.training_script_args, std::vector<std::string>{"a"});
}

TEST(LaunchParser, OneDoubleDashAmongThePositionalsIsDroppedAsArgparseDoes) {
    // Python's argparse (3.6 to 3.13), with upstream's training_script + REMAINDER.
    auto after = parse({"t.py", "--", "--lr", "1"});
    EXPECT_EQ(after.training_script_args, (std::vector<std::string>{"--lr", "1"}));
    auto twice = parse({"t.py", "--", "--", "a"});
    EXPECT_EQ(twice.training_script_args, (std::vector<std::string>{"--", "a"}));
    auto before_and_after = parse({"--", "t.py", "--", "a"});
    EXPECT_EQ(before_and_after.training_script_args, (std::vector<std::string>{"--", "a"}));
    auto later = parse({"t.py", "a", "--", "b"});
    EXPECT_EQ(later.training_script_args, (std::vector<std::string>{"a", "--", "b"}));
    auto alone = parse({"--cpu", "t.py", "--"});
    EXPECT_TRUE(alone.training_script_args.empty());
}

TEST(LaunchParser, GluedShortOptions) {
    auto s = parse({"-t3", "-mq", "pkg.mod"});
    EXPECT_EQ(s.get("tee"), Value::string("3"));
    EXPECT_TRUE(s.truthy("module"));
    EXPECT_TRUE(s.truthy("quiet"));
    EXPECT_EQ(s.training_script, "pkg.mod");
}

TEST(LaunchParser, TopLevelStoreTrueDefaultsToNoneGroupFlagsToFalse) {
    auto s = parse({"t.py"});
    EXPECT_TRUE(s.is_none("debug"));
    EXPECT_TRUE(s.is_none("module"));
    EXPECT_EQ(s.get("cpu"), Value::boolean(false));
    EXPECT_EQ(s.get("use_fsdp"), Value::boolean(false));
    EXPECT_EQ(s.get("fsdp_version"), Value::string("1"));
    EXPECT_EQ(s.get("monitor_interval"), Value::real(0.1));
}

TEST(LaunchParser, NondefaultTracksTypedOptionsOnly) {
    auto s = parse({"--fsdp_version", "2", "--vm", "a", "--cpu", "t.py"});
    EXPECT_TRUE(s.nondefault.count("fsdp_version"));
    EXPECT_TRUE(s.nondefault.count("cpu"));
    EXPECT_FALSE(s.nondefault.count("vm"));
    EXPECT_FALSE(s.nondefault.count("num_processes"));
    EXPECT_TRUE(s.nondefault.count("training_script"));
}

TEST(LaunchParser, AppendFlagsCollect) {
    auto s = parse({"--env", "A=1", "--env", "B=2", "t.py"});
    EXPECT_EQ(s.get("env"), Value::list({Value::string("A=1"), Value::string("B=2")}));
}

TEST(LaunchParser, UpstreamTypeQuirks) {
    // type=bool: any non-empty text, even "False", is True.
    auto s = parse({"--megatron_lm_no_load_optim", "False", "--fp8_override_linear_precision", "true,false,1",
                    "--fp8_pad_inner_dim", "off", "t.py"});
    EXPECT_EQ(s.get("megatron_lm_no_load_optim"), Value::boolean(true));
    EXPECT_EQ(s.get("fp8_override_linear_precision"),
              Value::list({Value::integer(1), Value::integer(0), Value::integer(1)}));
    EXPECT_EQ(s.get("fp8_pad_inner_dim"), Value::integer(0));
}

TEST(LaunchParser, NegativeNumbersAreValues) {
    auto s = parse({"--num_processes", "-1", "t.py"});
    EXPECT_EQ(s.get("num_processes"), Value::integer(-1));
}

TEST(LaunchParser, HelpIsReported) {
    EXPECT_TRUE(parse_launch_args({"-h"}).help_requested);
    EXPECT_TRUE(parse_launch_args({"--cpu", "--help", "t.py"}).help_requested);
    // In a cluster of one-letter flags, -h anywhere is help; "-q=m" is -q then -m.
    EXPECT_TRUE(parse_launch_args({"-hm", "t.py"}).help_requested);
    EXPECT_TRUE(parse_launch_args({"-mh", "t.py"}).help_requested);
    EXPECT_TRUE(parse_launch_args({"-q=m", "t.py"}).settings.truthy("module"));
}

TEST(LaunchParser, ErrorMessagesUseArgparseWording) {
    EXPECT_EQ(usage_error({"--mixed_precision", "fp17", "t.py"}),
              "argument --mixed_precision/--mixed-precision: invalid choice: 'fp17' (choose from no, fp16, bf16, fp8)");
    EXPECT_EQ(usage_error({"--num_processes", "two", "t.py"}),
              "argument --num_processes/--num-processes: invalid int value: 'two'");
    EXPECT_EQ(usage_error({"--monitor_interval", "x", "t.py"}),
              "argument --monitor_interval/--monitor-interval: invalid float value: 'x'");
    EXPECT_EQ(usage_error({"--config_file", "--cpu", "t.py"}),
              "argument --config_file/--config-file: expected one argument");
    EXPECT_EQ(usage_error({"--cpu"}), "the following arguments are required: training_script, training_script_args");
    EXPECT_EQ(usage_error({"--cpu=1", "t.py"}), "argument --cpu: ignored explicit argument '1'");
    // A value given to a flag that takes none is a mistake, even for -h: no help, no launch.
    EXPECT_EQ(usage_error({"--help=0", "t.py"}), "argument -h/--help: ignored explicit argument '0'");
    EXPECT_EQ(usage_error({"-h=0", "t.py"}), "argument -h/--help: ignored explicit argument '0'");
    EXPECT_EQ(usage_error({"-q=1", "t.py"}), "argument --quiet/-q: ignored explicit argument '1'");
    EXPECT_EQ(usage_error({"-mq=1", "t.py"}), "argument --quiet/-q: ignored explicit argument '=1'");
    EXPECT_EQ(usage_error({"-q=", "t.py"}), "argument --quiet/-q: ignored explicit argument ''");
    // The whole word is checked before help is shown, as argparse does.
    EXPECT_EQ(usage_error({"-hx", "t.py"}), "argument -h/--help: ignored explicit argument 'x'");
    EXPECT_EQ(usage_error({"-qh=0", "t.py"}), "argument -h/--help: ignored explicit argument '=0'");
    EXPECT_EQ(usage_error({"-hq=1", "t.py"}), "argument --quiet/-q: ignored explicit argument '=1'");
    EXPECT_EQ(usage_error({"--fp8_pad_inner_dim", "maybe", "t.py"}),
              "argument --fp8_pad_inner_dim/--fp8-pad-inner-dim: invalid str_to_bool value: 'maybe'");
    EXPECT_EQ(usage_error({"--dynamo_backend", "INDUCTOR", "t.py"}).rfind(
                  "argument --dynamo_backend/--dynamo-backend: invalid choice: 'INDUCTOR'", 0),
              0u);
}

TEST(LaunchParser, UnknownFlagsAreRejectedWithASuggestionAndNoAbbreviations) {
    EXPECT_EQ(usage_error({"--num_proc", "2", "t.py"}).rfind("unrecognized arguments: --num_proc", 0), 0u);
    std::string msg = usage_error({"--num_procesess", "2", "t.py"});
    EXPECT_EQ(msg, "unrecognized arguments: --num_procesess (did you mean --num_processes?)");
    EXPECT_EQ(usage_error({"--zzzzzzzzzzzzzzzz", "t.py"}), "unrecognized arguments: --zzzzzzzzzzzzzzzz");
}

TEST(LaunchParser, OnlyTheAllHyphenAliasIsAccepted) {
    // argparse adds exactly one alias per `--x_y`: `--x-y`; a mix of both is unknown.
    EXPECT_EQ(parse({"--dynamo-use-fullgraph", "t.py"}).get("dynamo_use_fullgraph"), Value::boolean(true));
    EXPECT_EQ(usage_error({"--dynamo-use_fullgraph", "t.py"}).rfind("unrecognized arguments: --dynamo-use_fullgraph", 0),
              0u);
    EXPECT_EQ(usage_error({"-cpu", "t.py"}).rfind("unrecognized arguments: -cpu", 0), 0u);
}

TEST(LaunchFlags, TableIsWellFormed) {
    using acc::cli::launch_flags;
    using acc::cli::launch_flags_by_dest;
    ASSERT_EQ(launch_flags().size(), launch_flags_by_dest().size());
    for (size_t i = 1; i < launch_flags_by_dest().size(); ++i) {
        EXPECT_LE(launch_flags_by_dest()[i - 1]->dest, launch_flags_by_dest()[i]->dest);
    }
    for (const auto& f : launch_flags()) {
        for (const auto& name : acc::cli::option_strings(f)) {
            EXPECT_EQ(acc::cli::find_flag(name)->dest, f.dest) << name;  // every spelling finds its flag
        }
    }
    const auto* tee = acc::cli::find_flag("-t");
    ASSERT_NE(tee, nullptr);
    EXPECT_EQ(acc::cli::flag_display_name(*tee), "-t/--tee");
    EXPECT_EQ(acc::cli::flag_display_name(*acc::cli::find_flag("--num-processes")), "--num_processes/--num-processes");
    EXPECT_EQ(acc::cli::find_flag("--no-such-flag"), nullptr);
}

TEST(LaunchSettings, SetInAnyOrderReadsBackAndListsByName) {
    acc::launch::LaunchSettings s;
    s.set("zeta", Value::integer(1), acc::launch::Origin::flag);
    s.set("alpha", Value::string("a"), acc::launch::Origin::config_file);
    s.set("mid", Value::boolean(true), acc::launch::Origin::default_value);
    s.set("alpha", Value::string("b"), acc::launch::Origin::flag);  // replaced, not added
    EXPECT_EQ(s.get("alpha"), Value::string("b"));
    EXPECT_EQ(s.origin("alpha"), acc::launch::Origin::flag);
    EXPECT_EQ(s.get("zeta"), Value::integer(1));
    EXPECT_TRUE(s.has("mid"));
    EXPECT_FALSE(s.has("missing"));
    EXPECT_TRUE(s.get("missing").is_none());
    std::vector<std::string> names;
    for (const auto& [name, setting] : s.all()) {
        names.push_back(name);
    }
    EXPECT_EQ(names, (std::vector<std::string>{"alpha", "mid", "zeta"}));
}
