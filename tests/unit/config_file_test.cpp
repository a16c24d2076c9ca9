#include "acc/config/config_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "acc/util/error.hpp"

using namespace acc;
using namespace acc::config;

namespace {

std::string config_error(const std::string& yaml) {
    try {
        make_config(parse_yaml(yaml, "c.yaml"), "c.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(ConfigFile, ScalarsResolveAsPyYamlSafeLoadDoes) {
    Value v = parse_yaml(
        "a: NO\nb: 'NO'\nc: yes\nd: 0\ne: '0'\nf: 1.5\ng: null\nh: ~\ni: 0x1f\nj: 010\nk: text\nl: 1e3\nm: 1.0e+3\n"
        "n: \"on\"\n",
        "t");
    EXPECT_EQ(*v.find("a"), Value::boolean(false));
    EXPECT_EQ(*v.find("b"), Value::string("NO"));
    EXPECT_EQ(*v.find("c"), Value::boolean(true));
    EXPECT_EQ(*v.find("d"), Value::integer(0));
    EXPECT_EQ(*v.find("e"), Value::string("0"));
    EXPECT_EQ(*v.find("f"), Value::real(1.5));
    EXPECT_TRUE(v.find("g")->is_none());
    EXPECT_TRUE(v.find("h")->is_none());
    EXPECT_EQ(*v.find("i"), Value::integer(31));
    EXPECT_EQ(*v.find("j"), Value::integer(8));
    EXPECT_EQ(*v.find("k"), Value::string("text"));
    EXPECT_EQ(*v.find("l"), Value::string("1e3"));  // YAML 1.1 floats need a dot
    EXPECT_EQ(*v.find("m"), Value::real(1000.0));
    EXPECT_EQ(*v.find("n"), Value::string("on"));
}

TEST(ConfigFile, JsonLoadsToTheSameValues) {
    Value v = parse_yaml(R"({"distributed_type": "MULTI_GPU", "num_processes": 2, "use_cpu": false, "x": null})", "t");
    EXPECT_EQ(*v.find("distributed_type"), Value::string("MULTI_GPU"));
    EXPECT_EQ(*v.find("num_processes"), Value::integer(2));
    EXPECT_EQ(*v.find("use_cpu"), Value::boolean(false));
    EXPECT_TRUE(v.find("x")->is_none());
}

TEST(ConfigFile, FillsDefaultsAndProcessesLegacyKeys) {
    auto cfg = make_config(parse_yaml("distributed_type: 'NO'\nfp16: true\ndynamo_backend: INDUCTOR\n", "t"), "t");
    EXPECT_TRUE(cfg.is_local_machine());
    EXPECT_EQ(cfg.field("num_processes"), Value::integer(1));
    EXPECT_EQ(cfg.field("mixed_precision"), Value::string("fp16"));
    EXPECT_EQ(cfg.field("dynamo_config"), Value::map({{"dynamo_backend", Value::string("INDUCTOR")}}));
    EXPECT_EQ(cfg.field("rdzv_backend"), Value::string("static"));
    EXPECT_EQ(cfg.field("main_training_function"), Value::string("main"));
    EXPECT_EQ(cfg.field("fp16"), Value::none());
}

TEST(ConfigFile, ErrorsNameTheFileAndTheFix) {
    EXPECT_EQ(config_error("num_processes: 2\n"),
              "A `distributed_type` must be specified in the config file (c.yaml).");
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\nnum_proceses: 2\n"),
              "The config file at c.yaml had unknown keys (['num_proceses']), please try upgrading your `accelerate` "
              "version or fix (and potentially remove) these keys from your config file. Did you mean "
              "'num_processes'?");
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\nzz: 1\naa: 2\n"),
              "The config file at c.yaml had unknown keys (['aa', 'zz']), please try upgrading your `accelerate` "
              "version or fix (and potentially remove) these keys from your config file.");
    // Not exactly LOCAL_MACHINE: upstream reads a SageMaker config, to which a machine's keys
    // are unknown; the hint names that, not the machine key closest to the name.
    EXPECT_EQ(config_error("compute_environment: local_machine\ndistributed_type: MULTI_GPU\nnum_processes: 2\n"),
              "The config file at c.yaml had unknown keys (['num_processes']), please try upgrading your `accelerate` "
              "version or fix (and potentially remove) these keys from your config file. Its compute_environment is "
              "'local_machine', so it was read as an Amazon SageMaker config; for this machine write "
              "`compute_environment: LOCAL_MACHINE` (exactly so).");
    EXPECT_EQ(config_error(""), "the config file c.yaml is empty; run `accelerate config` to write one");
    EXPECT_EQ(config_error("- a\n- b\n"), "the config file c.yaml must be a mapping of keys to values");
}

TEST(ConfigFile, YamlSyntaxErrorsCarryLineAndColumn) {
    try {
        parse_yaml("distributed_type: MULTI_GPU\nnum_processes: [2\n", "bad.yaml");
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        std::string msg = e.what();
        EXPECT_EQ(msg.rfind("bad.yaml:", 0), 0u) << msg;
        EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
    }
}

TEST(ConfigFile, MissingFileUsesUpstreamsSentence) {
    try {
        load_config_file("/nonexistent/x.yaml");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "The passed configuration file `/nonexistent/x.yaml` does not exist. Please pass an existing file to "
                  "`accelerate launch`, or use the default one created through `accelerate config` and run "
                  "`accelerate launch` without the `--config_file` argument.");
    }
}

std::string load_error(const std::string& path) {
    try {
        load_config_file(path);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(ConfigFile, IntegersUpTo64Bits) {
    Value y = parse_yaml("a: 9223372036854775807\nb: -9223372036854775808\nc: 99999999999999999999\n", "c.yaml");
    EXPECT_EQ(*y.find("a"), Value::integer(INT64_MAX));
    EXPECT_EQ(*y.find("b"), Value::integer(INT64_MIN));
    EXPECT_EQ(*y.find("c"), Value::string("99999999999999999999"));
    Value j = parse_yaml("{\"a\": 1234567890123456789, \"b\": 99999999999999999999}", "c.json");
    EXPECT_EQ(*j.find("a"), Value::integer(1234567890123456789));  // was a float
    EXPECT_EQ(*j.find("b"), Value::string("99999999999999999999"));
}

TEST(ConfigFile, Yaml11IntegerForms) {
    // PyYAML's SafeLoader (YAML 1.1) reads these as ints too.
    Value v = parse_yaml("a: 0b11\nb: -0b1_0\nc: 1:30\nd: 1:00:05\ne: 1:60\nf: '1:30'\n", "t");
    EXPECT_EQ(*v.find("a"), Value::integer(3));
    EXPECT_EQ(*v.find("b"), Value::integer(-2));
    EXPECT_EQ(*v.find("c"), Value::integer(90));
    EXPECT_EQ(*v.find("d"), Value::integer(3605));
    EXPECT_EQ(*v.find("e"), Value::string("1:60"));  // not a base-60 digit
    EXPECT_EQ(*v.find("f"), Value::string("1:30"));
    // And base-60 floats (PyYAML: {'a': 90.5, 'b': -1.25, 'c': 630.0, 'd': '1:30.5.5', 'e': 685230.15}).
    Value f = parse_yaml("a: 1:30.5\nb: -0:01.25\nc: 1_0:30.\nd: 1:30.5.5\ne: 190:20:30.15\n", "t");
    EXPECT_EQ(*f.find("a"), Value::real(90.5));
    EXPECT_EQ(*f.find("b"), Value::real(-1.25));
    EXPECT_EQ(*f.find("c"), Value::real(630.0));
    EXPECT_EQ(*f.find("d"), Value::string("1:30.5.5"));
    EXPECT_EQ(*f.find("e"), Value::real(685230.15));
}

TEST(ConfigFile, OnlyARegularFileIsRead) {
    // A FIFO would block the read until a writer came; /dev/zero would never end.
    char dir[] = "/tmp/acc_cfg_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string fifo = std::string(dir) + "/c.yaml";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    EXPECT_EQ(load_error(fifo), "the config file " + fifo +
                                    " is not a regular file (a pipe or a device); pass the YAML or JSON file itself");
    EXPECT_EQ(load_error("/dev/zero"),
              "the config file /dev/zero is not a regular file (a pipe or a device); pass the YAML or JSON file itself");
    EXPECT_EQ(load_error(dir), std::string("--config_file ") + dir + " is a folder; pass the YAML or JSON file in it");
    unlink(fifo.c_str());
    rmdir(dir);
}

TEST(ConfigFile, TextPyYamlRefusesIsRefused) {
    const std::string head = "distributed_type: 'NO'\n";
    EXPECT_EQ(config_error(head + "main_training_function: caf\xe9\n"),
              "c.yaml:2:28: the file is not UTF-8 text (byte 0xE9); save it as UTF-8");
    EXPECT_EQ(config_error(head + std::string("main_training_function: a\0b\n", 28)),
              "c.yaml:2:26: the character U+0000 is not allowed in YAML; remove it");
    EXPECT_EQ(config_error(head + "main_training_function: \xc2\x80x\n"),
              "c.yaml:2:25: the character U+0080 is not allowed in YAML; remove it");
    EXPECT_EQ(config_error(head + "---\n" + head), "c.yaml: holds 2 YAML documents (separated by `---`); a config file is one");
    EXPECT_EQ(config_error(head + "main_training_function: 'abc\n"),
              "c.yaml:2:25: invalid YAML: a quoted value is never closed (the file ends inside it); add the closing "
              "quote");
    EXPECT_EQ(config_error(head + "main_training_function: \"a\\\"bc\n\n"),
              "c.yaml:2:25: invalid YAML: a quoted value is never closed (the file ends inside it); add the closing "
              "quote");
    EXPECT_EQ(config_error(head + "main_training_function: !!python/name:os.system\n"),
              "c.yaml:2:25: the YAML tag !!python/name:os.system is not allowed in a config file; remove it");
    EXPECT_EQ(config_error(head + "main_training_function: !local x\n"),
              "c.yaml:2:25: the YAML tag !local is not allowed in a config file; remove it");
    EXPECT_EQ(config_error(head + "num_processes: !!int abc\n"), "c.yaml:2:16: 'abc' is not a valid !!int");
    // What PyYAML takes is still taken: quotes closed on a later line, '' and \" inside
    // quotes, standard tags, a lone CR as a line break, the last of duplicated keys.
    Value ok = parse_yaml(head + "main_training_function: 'it''s\n  here'\nnum_processes: !!int 3\n"
                                 "gpu_ids: !!str 0\nmain_process_ip: \"a\\\"b\"\n",
                          "c.yaml");
    EXPECT_EQ(*ok.find("main_training_function"), Value::string("it's here"));
    EXPECT_EQ(*ok.find("num_processes"), Value::integer(3));
    EXPECT_EQ(*ok.find("gpu_ids"), Value::string("0"));
    EXPECT_EQ(*ok.find("main_process_ip"), Value::string("a\"b"));
    Value cr = parse_yaml("distributed_type: 'NO'\rnum_processes: 2\r", "c.yaml");
    EXPECT_EQ(*cr.find("num_processes"), Value::integer(2));
}

TEST(ConfigFile, ByteOrderMarkAndJsonCharacters) {
    // PyYAML skips a BOM; the quote check must still look where yaml-cpp's marks point.
    Value v = parse_yaml("\xEF\xBB\xBFk: ['a', '']\n'q': ''\n", "c.yaml");
    EXPECT_EQ(*v.find("k"), Value::list({Value::string("a"), Value::string("")}));
    EXPECT_EQ(*v.find("q"), Value::string(""));
    EXPECT_NE(config_error("\xEF\xBB\xBF" "distributed_type: 'NO'\nmain_training_function: \"abc\n")
                  .find("a quoted value is never closed"),
              std::string::npos);
    // json.load refuses a BOM, and takes DEL, C1 characters and U+FFFE in a string.
    try {
        parse_yaml("\xEF\xBB\xBF{\"a\": 1}", "c.json");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "c.json: starts with a UTF-8 byte-order mark, which JSON does not allow; save it without one");
    }
    Value j = parse_yaml("{\"a\": \"x\x7fy\xc2\x80\xef\xbf\xbe\"}", "c.json");
    EXPECT_EQ(*j.find("a"), Value::string("x\x7fy\xc2\x80\xef\xbf\xbe"));
}

TEST(ConfigFile, ExplicitTagsAsPyYamlConstructsThem) {
    Value v = parse_yaml("a: !!float 1e5\nb: !!null foo\nc: !!bool tRuE\nd: !!int 0x10\ne: !!float 2\n", "c.yaml");
    EXPECT_EQ(*v.find("a"), Value::real(100000.0));
    EXPECT_TRUE(v.find("b")->is_none());
    EXPECT_EQ(*v.find("c"), Value::boolean(true));
    EXPECT_EQ(*v.find("d"), Value::integer(16));
    EXPECT_EQ(*v.find("e"), Value::real(2.0));
    EXPECT_EQ(config_error("distributed_type: 'NO'\nnum_processes: !!bool maybe\n"),
              "c.yaml:2:16: 'maybe' is not a valid !!bool");
}

TEST(ConfigFile, AliasesThatMultiplyAreRefused) {
    std::string yaml = "distributed_type: 'NO'\nfsdp_config:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 8; ++i) {
        yaml += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) {
            yaml += (k ? ", *a" : "*a") + std::to_string(i - 1);
        }
        yaml += "]\n";
    }
    EXPECT_EQ(config_error(yaml), "c.yaml: more than 100000 values once its YAML aliases are expanded; a config file "
                                  "needs no aliases that multiply like this");
    // An alias or two, as a person writes them, is fine.
    Value v = parse_yaml("a: &x [1, 2]\nb: *x\n", "c.yaml");
    EXPECT_EQ(*v.find("b"), Value::list({Value::integer(1), Value::integer(2)}));
}

TEST(ConfigFile, DefaultPathFollowsHfHomeThenXdgThenHome) {
    EXPECT_EQ(default_config_path(Environment({{"HF_HOME", "/hf"}, {"HOME", "/h"}})),
              "/hf/accelerate/default_config.yaml");
    EXPECT_EQ(default_config_path(Environment({{"HF_HOME", "~/hf"}, {"HOME", "/h"}})),
              "/h/hf/accelerate/default_config.yaml");
    EXPECT_EQ(default_config_path(Environment({{"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}})),
              "/x/huggingface/accelerate/default_config.yaml");
    EXPECT_EQ(default_config_path(Environment(std::map<std::string, std::string>{{"HOME", "/h"}})),
              "/h/.cache/huggingface/accelerate/default_config.yaml");
}

TEST(ConfigFile, GpuIdsAndMainProcessIpOfAWrongTypeAreRefused) {
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\ngpu_ids: [0, 1]\n"),
              "c.yaml: gpu_ids must be 'all' or GPU ids separated by commas, such as '0,1', not [0, 1]");
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\ngpu_ids: 0.5\n"),
              "c.yaml: gpu_ids must be 'all' or GPU ids separated by commas, such as '0,1', not 0.5");
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\nmain_process_ip: 10\n"),
              "c.yaml: main_process_ip must be a host name or an IP address, not 10");
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\ngpu_ids: 0\nmain_process_ip: 10.0.0.1\n"), "(no error)");
}

TEST(ConfigFile, NumericFieldsMustBeIntegers) {
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\nnum_processes: '2'\n"),
              "c.yaml: num_processes must be an integer, not '2'");
    EXPECT_EQ(config_error("distributed_type: MULTI_GPU\nmain_process_port: 1.5\n"),
              "c.yaml: main_process_port must be an integer, not 1.5");
}
