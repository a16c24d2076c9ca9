#include "acc/launch/exit_policy.hpp"

#include <gtest/gtest.h>

#include "acc/util/strings.hpp"
#include "acc/util/value.hpp"

using namespace acc;
using namespace acc::launch;

TEST(ExitPolicy, FailingRanksOwnStatusOrSignal) {
    EXPECT_EQ(job_exit_status(std::nullopt, std::nullopt), 0);
    EXPECT_EQ(job_exit_status(std::nullopt, WaitStatus{true, 3, 0, false}), 3);
    EXPECT_EQ(job_exit_status(std::nullopt, WaitStatus{false, 0, 11, true}), 139);
    EXPECT_EQ(job_exit_status(std::nullopt, WaitStatus{false, 0, 9, false}), 137);
    EXPECT_EQ(job_exit_status(2, WaitStatus{true, 3, 0, false}), 130);  // the launcher's own signal wins
}

TEST(ExitPolicy, Descriptions) {
    EXPECT_EQ(describe(WaitStatus{true, 3, 0, false}), "exited with status 3");
    EXPECT_EQ(describe(WaitStatus{false, 0, 11, true}), "was killed by signal 11 (SIGSEGV, core dumped)");
    EXPECT_EQ(signal_name(15), "SIGTERM");
    EXPECT_EQ(signal_name(64), "signal 64");
}

TEST(Value, PythonStrAndRepr) {
    EXPECT_EQ(Value::real(1.0).str(), "1.0");
    EXPECT_EQ(Value::real(0.1).str(), "0.1");
    EXPECT_EQ(Value::real(1e16).str(), "1e+16");
    EXPECT_EQ(Value::boolean(true).str(), "True");
    EXPECT_EQ(Value::none().str(), "None");
    EXPECT_EQ(Value::string("it's").repr(), "\"it's\"");
    EXPECT_EQ(Value::list({Value::string("a"), Value::integer(1)}).str(), "['a', 1]");
    EXPECT_FALSE(Value::string("").truthy());
    EXPECT_TRUE(Value::string("false").truthy());
}

TEST(Strings, PythonNumberParsing) {
    EXPECT_EQ(parse_python_int(" 12 "), 12);
    EXPECT_EQ(parse_python_int("+3"), 3);
    EXPECT_EQ(parse_python_int("1_000"), 1000);
    EXPECT_FALSE(parse_python_int("1__0"));
    EXPECT_FALSE(parse_python_int("0x10"));
    EXPECT_FALSE(parse_python_int(""));
    // Any int64, as Python's int() (which has no bound at all) reads it.
    EXPECT_EQ(parse_python_int("1000000000000000000"), 1000000000000000000);
    EXPECT_EQ(parse_python_int("9223372036854775807"), INT64_MAX);
    EXPECT_EQ(parse_python_int("-9223372036854775808"), INT64_MIN);
    EXPECT_FALSE(parse_python_int("9223372036854775808"));
    EXPECT_TRUE(is_python_int_too_large("9223372036854775808"));
    EXPECT_TRUE(is_python_int_too_large("99_999_999_999_999_999_999"));
    EXPECT_FALSE(is_python_int_too_large("9223372036854775807"));
    EXPECT_FALSE(is_python_int_too_large("12a"));
    EXPECT_FALSE(is_python_int_too_large("1__0000000000000000000"));  // malformed, not large
    EXPECT_FALSE(is_python_int_too_large("_10000000000000000000"));
    EXPECT_FALSE(is_python_int_too_large("10000000000000000000_"));
    EXPECT_EQ(parse_python_float("1e-3"), 1e-3);
    EXPECT_EQ(parse_python_float("1_000.2_5"), 1000.25);
    EXPECT_EQ(parse_python_float(" -2_0 "), -20.0);
    // An underscore only between digits, as float() wants.
    for (const char* bad : {"1__0", "1_", "_1", "1_e5", "1._5", "1e_5"}) {
        EXPECT_FALSE(parse_python_float(bad)) << bad;
    }
    EXPECT_FALSE(parse_python_float("abc"));
    EXPECT_EQ(str_to_bool("YES"), 1);
    EXPECT_EQ(str_to_bool("off"), 0);
    EXPECT_FALSE(str_to_bool("maybe"));
    EXPECT_EQ(shell_quote("a b"), "'a b'");
    EXPECT_EQ(shell_quote("plain-1.py"), "plain-1.py");
}
