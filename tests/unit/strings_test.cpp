#include "acc/util/strings.hpp"

#include <gtest/gtest.h>

TEST(FormatBytes, ForPeople) {
    EXPECT_EQ(acc::format_bytes(0), "0 B");
    EXPECT_EQ(acc::format_bytes(1023), "1023 B");
    EXPECT_EQ(acc::format_bytes(1024), "1.0 KiB");
    EXPECT_EQ(acc::format_bytes(1536), "1.5 KiB");
    EXPECT_EQ(acc::format_bytes(936482406), "893.1 MiB");
    EXPECT_EQ(acc::format_bytes(std::uint64_t{3} << 40), "3.0 TiB");
    EXPECT_EQ(acc::format_bytes(std::uint64_t{5} << 50), "5120.0 TiB");  // the largest unit goes on
}

TEST(ClosestMatch, SuggestsLikelyTyposOnly) {
    const std::vector<std::string> names = {"--num_processes", "--num_machines", "--mixed_precision"};
    EXPECT_EQ(acc::closest_match("--num_procesess", names).value_or(""), "--num_processes");
    EXPECT_FALSE(acc::closest_match("--zzzzzzzzzzzz", names).has_value());
    EXPECT_EQ(acc::edit_distance("kitten", "sitting"), 3u);
    // Two swapped letters are one edit; a name entirely different is no typo.
    EXPECT_EQ(acc::edit_distance("tset", "test"), 1u);
    const std::vector<std::string> flags = {"-h", "-m", "--debug", "--quiet", "--cpu"};
    EXPECT_EQ(acc::closest_match("--debgu", flags).value_or(""), "--debug");
    EXPECT_EQ(acc::closest_match("--cup", flags).value_or(""), "--cpu");
    EXPECT_FALSE(acc::closest_match("-x", flags).has_value());
    EXPECT_FALSE(acc::closest_match("--\xc3\xa9", {"--vm"}).has_value());
    const std::vector<std::string> commands = {"config", "env", "launch", "test"};
    EXPECT_EQ(acc::closest_match("evn", commands).value_or(""), "env");
    EXPECT_EQ(acc::closest_match("lauch", commands).value_or(""), "launch");
}

TEST(JsonSurrogatesForYaml, PairsBecomeOneCodePointLoneOnesTheReplacementCharacter) {
    using acc::json_surrogates_for_yaml;
    EXPECT_EQ(json_surrogates_for_yaml(R"({"m": "bad \ud83d\ude00!"})"), R"({"m": "bad \U0001F600!"})");
    EXPECT_EQ(json_surrogates_for_yaml(R"("\uDBFF\uDFFF")"), R"("\U0010FFFF")");
    EXPECT_EQ(json_surrogates_for_yaml(R"("a\udcffb")"), R"("a\uFFFDb")");       // lone low
    EXPECT_EQ(json_surrogates_for_yaml(R"("\ud83dx")"), R"("\uFFFDx")");         // lone high
    EXPECT_EQ(json_surrogates_for_yaml(R"("\ud83d\u0041")"), R"("\uFFFD\u0041")"); // high, then no low
    // Everything else is left as it is: other escapes, an escaped backslash before "u".
    EXPECT_EQ(json_surrogates_for_yaml(R"("caf\u00e9 \t \\ud83d \"q\" \u12")"), R"("caf\u00e9 \t \\ud83d \"q\" \u12")");
    EXPECT_EQ(json_surrogates_for_yaml("trailing \\"), "trailing \\");
}
