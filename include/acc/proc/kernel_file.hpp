// Reading small files the kernel generates (/proc, /sys, cgroup counters) with plain
// read(2). The launch path avoids iostreams: their first use sets up the C++ locale,
// about 0.1 ms that every launch would pay.
#pragma once

#include <optional>
#include <string>

namespace acc::proc {

// The whole file, up to `limit` bytes; nullopt if it cannot be opened or read.
std::optional<std::string> read_kernel_file(const std::string& path, size_t limit = size_t{1} << 20);

}  // namespace acc::proc
