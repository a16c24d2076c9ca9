#include "acc/config/serialize.hpp"

#include <gtest/gtest.h>

#include "acc/config/config_file.hpp"

using acc::Value;
using namespace acc::config;

namespace {

std::string yaml_of(const std::string& s) { return to_yaml(Value::map({{"k", Value::string(s)}})); }

Value sample_a() {
    return Value::map({
        {"compute_environment", Value::string("LOCAL_MACHINE")}, {"distributed_type", Value::string("NO")},
        {"mixed_precision", Value::string("no")},                {"use_cpu", Value::boolean(false)},
        {"debug", Value::boolean(false)},                        {"num_processes", Value::integer(1)},
        {"machine_rank", Value::integer(0)},                     {"num_machines", Value::integer(1)},
        {"gpu_ids", Value::string("all")},                       {"rdzv_backend", Value::string("static")},
        {"same_network", Value::boolean(true)},                  {"main_training_function", Value::string("main")},
        {"enable_cpu_affinity", Value::boolean(false)},          {"downcast_bf16", Value::string("no")},
        {"tpu_use_cluster", Value::boolean(false)},              {"tpu_use_sudo", Value::boolean(false)},
        {"tpu_env", Value::list({})},
    });
}

}  // namespace

TEST(ConfigYaml, SampleAIsByteExact) {
    EXPECT_EQ(to_yaml(sample_a()),
              "compute_environment: LOCAL_MACHINE\ndebug: false\ndistributed_type: 'NO'\ndowncast_bf16: 'no'\n"
              "enable_cpu_affinity: false\ngpu_ids: all\nmachine_rank: 0\nmain_training_function: main\n"
              "mixed_precision: 'no'\nnum_machines: 1\nnum_processes: 1\nrdzv_backend: static\nsame_network: true\n"
              "tpu_env: []\ntpu_use_cluster: false\ntpu_use_sudo: false\nuse_cpu: false\n");
}

TEST(ConfigYaml, QuotingFollowsPyYamlVectors) {
    for (const char* s : {"NO", "no", "yes", "on", "True", "null", "0", "29500", "1.0", ".inf", "1:30", "2020-01-01",
                          "0x1F", "~", "a: b", "a #b", " lead", "trail ", "-", "*x", "!x", "%x", "@x", "`x", "{x"}) {
        EXPECT_EQ(yaml_of(s), std::string("k: '") + s + "'\n") << s;
    }
    for (const char* s : {"y", "N", "0,1", "192.168.1.10", "~/hostfile", "1e8", "0o17", "it's", "say \"hi\""}) {
        EXPECT_EQ(yaml_of(s), std::string("k: ") + s + "\n") << s;
    }
    EXPECT_EQ(yaml_of(""), "k: ''\n");
    EXPECT_EQ(yaml_of("a\tb"), "k: \"a\\tb\"\n");
    EXPECT_EQ(yaml_of("h\xC3\xA9llo"), "k: \"h\\xE9llo\"\n");
    EXPECT_EQ(yaml_of("don't 'no'"), "k: don't 'no'\n");
    EXPECT_EQ(yaml_of("#x'y"), "k: '#x''y'\n");
}

TEST(ConfigYaml, ScalarsNestingAndLists) {
    Value v = Value::map({
        {"f", Value::real(1e-05)},
        {"g", Value::real(1.0)},
        {"h", Value::real(0.5)},
        {"b", Value::boolean(true)},
        {"n", Value::none()},
        {"nested", Value::map({{"zero_stage", Value::integer(2)}, {"zero3_init_flag", Value::boolean(false)},
                               {"empty", Value::map({})}})},
        {"list", Value::list({Value::string(""), Value::string("x")})},
    });
    EXPECT_EQ(to_yaml(v),
              "b: true\nf: 1.0e-05\ng: 1.0\nh: 0.5\nlist:\n- ''\n- x\nn: null\nnested:\n  empty: {}\n"
              "  zero3_init_flag: false\n  zero_stage: 2\n");
}

TEST(ConfigYaml, LongStringsFoldAtEightyColumns) {
    std::string words;
    for (int i = 0; i < 20; ++i) {
        words += "word ";
    }
    words += "end";
    // PyYAML: yaml.safe_dump({'k': 'word ' * 20 + 'end'})
    EXPECT_EQ(yaml_of(words),
              "k: word word word word word word word word word word word word word word word word\n"
              "  word word word word end\n");
}

TEST(ConfigJson, MatchesPythonJsonDumps) {
    Value v = Value::map({{"b", Value::list({Value::integer(1), Value::string("\xC3\xA9")})},
                          {"a", Value::map({})},
                          {"c", Value::real(1e-05)},
                          {"d", Value::list({})},
                          {"e", Value::map({{"x", Value::none()}})}});
    EXPECT_EQ(to_json(v), "{\n  \"a\": {},\n  \"b\": [\n    1,\n    \"\\u00e9\"\n  ],\n  \"c\": 1e-05,\n  \"d\": [],\n"
                          "  \"e\": {\n    \"x\": null\n  }\n}\n");
}

TEST(ConfigToDict, EmptyDictsAtAnyDepthBecomeNoneAndTopLevelNonesDrop) {
    Value fields = Value::map({{"a", Value::none()},
                               {"b", Value::map({})},
                               {"c", Value::map({{"inner", Value::map({})}, {"x", Value::integer(1)}})},
                               {"d", Value::list({})},
                               {"e", Value::boolean(false)},
                               {"f", Value::string("")}});
    Value d = to_dict(fields);
    ASSERT_EQ(d.entries().size(), 4u);
    EXPECT_EQ(d.entries()[0].first, "c");
    EXPECT_EQ(*d.find("c")->find("inner"), Value::none());
    EXPECT_EQ(*d.find("d"), Value::list({}));
    EXPECT_EQ(*d.find("f"), Value::string(""));
}

TEST(ConfigYaml, PlainScalarResolution) {
    EXPECT_FALSE(plain_scalar_is_string("1_000"));
    EXPECT_FALSE(plain_scalar_is_string("0b101"));
    EXPECT_FALSE(plain_scalar_is_string("<<"));
    EXPECT_FALSE(plain_scalar_is_string("-.inf"));
    EXPECT_TRUE(plain_scalar_is_string("1e8"));
    EXPECT_TRUE(plain_scalar_is_string("MULTI_GPU"));
}

TEST(ConfigYaml, WrittenFilesParseBackToTheSameValues) {
    Value v = sample_a();
    Value back = parse_yaml(to_yaml(v), "x.yaml");
    for (const auto& [k, val] : v.entries()) {
        ASSERT_NE(back.find(k), nullptr) << k;
        EXPECT_EQ(*back.find(k), val) << k;
    }
    Value j = parse_yaml(to_json(v), "x.json");
    EXPECT_EQ(*j.find("distributed_type"), Value::string("NO"));
    EXPECT_EQ(*parse_yaml("{\"f\": 1e-05}", "x.json").find("f"), Value::real(1e-05));
    EXPECT_EQ(*parse_yaml("f: 1e-05", "x.yaml").find("f"), Value::string("1e-05"));
}

TEST(ConfigPaths, PythonPathStrAndJsonSuffix) {
    EXPECT_EQ(python_path_str("./a//b.yaml"), "a/b.yaml");
    EXPECT_EQ(python_path_str("/x/./y/"), "/x/y");
    EXPECT_EQ(python_path_str("../a"), "../a");
    EXPECT_TRUE(is_json_path("c.json"));
    EXPECT_FALSE(is_json_path("c.JSON"));
    EXPECT_FALSE(is_json_path("c.yaml"));
}
