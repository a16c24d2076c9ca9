// argparse's allow_abbrev for the config, env and test parsers.
#include "acc/cli/abbreviations.hpp"

#include <gtest/gtest.h>

#include "acc/util/error.hpp"

using namespace acc;
using namespace acc::cli;

namespace {

ParserOptions file_only() { return {{"--help", "--config_file", "--config-file"}, {"--config_file", "--config-file"}, {}}; }

ParserOptions config() {
    ParserOptions def = file_only();
    def.options.insert(def.options.end(), {"--mixed_precision", "--mixed-precision"});
    def.valued.insert(def.valued.end(), {"--mixed_precision", "--mixed-precision"});
    ParserOptions top = file_only();
    top.subcommands = {{"default", def}, {"update", file_only()}};
    return top;
}

using Args = std::vector<std::string>;

std::string error_of(const Args& args) {
    try {
        expand_abbreviations(args, config());
    } catch (const UsageError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST(Abbreviations, AUniquePrefixNamesTheOption) {
    EXPECT_EQ(expand_abbreviations({"--config_f", "x.yaml"}, file_only()), (Args{"--config_file", "x.yaml"}));
    EXPECT_EQ(expand_abbreviations({"--config-f=x.yaml"}, file_only()), (Args{"--config-file=x.yaml"}));
    EXPECT_EQ(expand_abbreviations({"--he"}, file_only()), (Args{"--help"}));
    EXPECT_EQ(expand_abbreviations({"--config_file", "x"}, file_only()), (Args{"--config_file", "x"}));
}

TEST(Abbreviations, APrefixOfBothSpellingsIsAmbiguousAsInArgparse) {
    EXPECT_EQ(error_of({"--config", "x", "default"}), "ambiguous option: --config could match --config_file, --config-file");
    EXPECT_EQ(error_of({"default", "--mixed", "bf16"}),
              "ambiguous option: --mixed could match --mixed_precision, --mixed-precision");
    EXPECT_EQ(error_of({"--c=x"}), "ambiguous option: --c=x could match --config_file, --config-file");
}

TEST(Abbreviations, EachSubcommandHasItsOwnOptions) {
    EXPECT_EQ(expand_abbreviations({"default", "--mixed_", "bf16", "--config-f", "d.json"}, config()),
              (Args{"default", "--mixed_precision", "bf16", "--config-file", "d.json"}));
    // `update` has no --mixed_precision: the prefix is left for the parser to reject.
    EXPECT_EQ(expand_abbreviations({"update", "--mixed_", "bf16"}, config()), (Args{"update", "--mixed_", "bf16"}));
    // Before the subcommand, only `config`'s own options count.
    EXPECT_EQ(expand_abbreviations({"--mixed_", "default"}, config()), (Args{"--mixed_", "default"}));
}

TEST(Abbreviations, ValuesAndWordsAfterADoubleDashAreNotOptions) {
    EXPECT_EQ(expand_abbreviations({"--config_f", "he.yaml"}, file_only()), (Args{"--config_file", "he.yaml"}));
    EXPECT_EQ(error_of({"--config_f", "--he"}), "argument --config_file/--config-file: expected one argument");
    EXPECT_EQ(expand_abbreviations({"--", "--he"}, file_only()), (Args{"--", "--he"}));
    EXPECT_EQ(expand_abbreviations({"--unknown", "-h"}, file_only()), (Args{"--unknown", "-h"}));
}

TEST(Abbreviations, AValueForHelpIsAnErrorAsInArgparse) {
    // `config default --help=0` must not write a default config; argparse refuses it.
    EXPECT_EQ(error_of({"default", "--help=0"}), "argument -h/--help: ignored explicit argument '0'");
    EXPECT_EQ(error_of({"--he=1"}), "argument -h/--help: ignored explicit argument '1'");
    EXPECT_EQ(error_of({"default", "-h=0"}), "argument -h/--help: ignored explicit argument '0'");
    EXPECT_EQ(error_of({"-hx"}), "argument -h/--help: ignored explicit argument 'x'");
    EXPECT_EQ(error_of({"--help="}), "argument -h/--help: ignored explicit argument ''");
    EXPECT_EQ(error_of({"-h="}), "argument -h/--help: ignored explicit argument ''");
    EXPECT_EQ(error_of({"-hhx"}), "argument -h/--help: ignored explicit argument 'x'");
    EXPECT_EQ(error_of({"-hh=0"}), "argument -h/--help: ignored explicit argument '=0'");
    // What follows -h is read as more one-letter flags: more h's are help again.
    EXPECT_EQ(expand_abbreviations({"-hh"}, file_only()), (Args{"-h"}));
    EXPECT_EQ(expand_abbreviations({"default", "-h=h"}, config()), (Args{"default", "-h"}));
    EXPECT_TRUE(is_help_cluster("-hhh"));
    EXPECT_FALSE(is_help_cluster("--help"));
    EXPECT_FALSE(is_help_cluster("-x"));
    // After "--", such a word is data.
    EXPECT_EQ(expand_abbreviations({"--", "--help=0"}, file_only()), (Args{"--", "--help=0"}));
}

TEST(Abbreviations, AnOptionsValueIsNoOptionItself) {
    // argparse: "--config_file -hx" lacks its value; a negative number or an unknown word
    // with a space is a value all the same.
    EXPECT_EQ(error_of({"--config_file", "-hx"}), "argument --config_file/--config-file: expected one argument");
    EXPECT_EQ(error_of({"--config-file", "--config_file=x"}),
              "argument --config_file/--config-file: expected one argument");
    EXPECT_EQ(error_of({"default", "--mixed-precision", "-x"}),
              "argument --mixed_precision/--mixed-precision: expected one argument");
    EXPECT_EQ(expand_abbreviations({"--config_file", "-1"}, file_only()), (Args{"--config_file", "-1"}));
    EXPECT_EQ(expand_abbreviations({"--config_file", "-a b"}, file_only()), (Args{"--config_file", "-a b"}));
    EXPECT_EQ(expand_abbreviations({"--config_file", "-"}, file_only()), (Args{"--config_file", "-"}));
}
