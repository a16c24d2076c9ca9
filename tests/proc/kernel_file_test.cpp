#include "acc/proc/kernel_file.hpp"

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

using acc::proc::read_kernel_file;

TEST(KernelFile, ReadsAGeneratedFileWhole) {
    // /proc files report size 0: the reader must read until EOF, not trust stat.
    auto status = read_kernel_file("/proc/self/status");
    ASSERT_TRUE(status.has_value());
    EXPECT_NE(status->find("Pid:\t" + std::to_string(getpid()) + "\n"), std::string::npos);
    EXPECT_NE(status->find("VmRSS:"), std::string::npos);  // well past the first line
}

TEST(KernelFile, MissingFileIsNulloptAndTheLimitHolds) {
    EXPECT_FALSE(read_kernel_file("/proc/self/no-such-file").has_value());
    EXPECT_FALSE(read_kernel_file("/proc/self").has_value());  // a folder: read fails
    auto head = read_kernel_file("/proc/self/status", 8);
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->size(), 8u);
}
