// Shared by the unit tests: a faked machine for the launch logic, and gtest printing of Values.
#pragma once

#include <map>
#include <ostream>
#include <string>

#include "acc/launch/host_facts.hpp"
#include "acc/util/value.hpp"

namespace acc {
// gtest shows a Value as Python's repr() in failure messages.
inline void PrintTo(const Value& v, std::ostream* os) { *os << v.repr(); }
}  // namespace acc

namespace acc::test {

// A machine with `gpus` GPUs, `cores` physical cores and the launcher environment `env`;
// `busy_port` (if >= 0) is reported in use, and free ports come out as 40000.
inline launch::HostFacts fake_host(int gpus, std::map<std::string, std::string> env = {}, int cores = 2,
                                   int busy_port = -1) {
    launch::HostFacts f;
    f.env = Environment(std::move(env));
    f.gpu_count = [gpus] { return gpus; };
    f.physical_cores = [cores] { return cores; };
    f.port_in_use = [busy_port](int port) { return port == busy_port; };
    f.free_port = [] { return 40000; };
    f.python = "/usr/bin/python3";
    f.cwd = "/work";
    return f;
}

}  // namespace acc::test
