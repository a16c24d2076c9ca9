// torchrun's ${local_rank} substitution, with Python's string.Template.safe_substitute rules.
#include "acc/launch/arg_macros.hpp"

#include <gtest/gtest.h>

using acc::launch::substitute_local_rank;

TEST(ArgMacros, LocalRankInBothSpellings) {
    EXPECT_EQ(substitute_local_rank("${local_rank}", 3), "3");
    EXPECT_EQ(substitute_local_rank("$local_rank", 3), "3");
    EXPECT_EQ(substitute_local_rank("--out=ckpt_${local_rank}/x", 12), "--out=ckpt_12/x");
    EXPECT_EQ(substitute_local_rank("$local_rank.log", 0), "0.log");
    EXPECT_EQ(substitute_local_rank("a$local_rank$local_rank", 1), "a11");
}

TEST(ArgMacros, DoubleDollarIsOneDollar) {
    EXPECT_EQ(substitute_local_rank("a$$b", 0), "a$b");
    EXPECT_EQ(substitute_local_rank("$$local_rank", 0), "$local_rank");
    EXPECT_EQ(substitute_local_rank("$$$local_rank", 5), "$5");
}

TEST(ArgMacros, EverythingElseIsKept) {
    EXPECT_EQ(substitute_local_rank("", 0), "");
    EXPECT_EQ(substitute_local_rank("plain", 0), "plain");
    EXPECT_EQ(substitute_local_rank("$HOME", 0), "$HOME");              // another name
    EXPECT_EQ(substitute_local_rank("${HOME}/x", 0), "${HOME}/x");
    EXPECT_EQ(substitute_local_rank("$LOCAL_RANK", 0), "$LOCAL_RANK");  // names are case-sensitive
    EXPECT_EQ(substitute_local_rank("$local_rank0", 7), "$local_rank0"); // the longest name is taken
    EXPECT_EQ(substitute_local_rank("${local_rank", 0), "${local_rank");  // unclosed brace
    EXPECT_EQ(substitute_local_rank("${ local_rank}", 0), "${ local_rank}");
    EXPECT_EQ(substitute_local_rank("$1 $ $", 0), "$1 $ $");             // invalid placeholders
    EXPECT_EQ(substitute_local_rank("cost$", 0), "cost$");
    EXPECT_EQ(substitute_local_rank("$_x", 0), "$_x");
}

TEST(ArgMacros, TheEntryPointIsLeftAlone) {
    const std::vector<std::string> argv = {"/opt/$local_rank/python", "-u", "t_${local_rank}.py", "$local_rank"};
    EXPECT_EQ(substitute_local_rank(argv, 2),
              (std::vector<std::string>{"/opt/$local_rank/python", "-u", "t_2.py", "2"}));
}
