#include "acc/proc/host_probe.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using acc::proc::parse_cpu_list;
using acc::proc::physical_core_count;

namespace {

// A folder laid out like /sys/devices/system/cpu, removed at the end of the test.
class FakeCpuRoot {
  public:
    FakeCpuRoot() {
        std::string pattern = (fs::temp_directory_path() / "acc-cpu-XXXXXX").string();
        m_root = mkdtemp(pattern.data());
    }
    ~FakeCpuRoot() { fs::remove_all(m_root); }
    void write(const std::string& relative, const std::string& text) {
        fs::create_directories((m_root / relative).parent_path());
        std::ofstream(m_root / relative) << text;
    }
    // An online CPU whose core holds `siblings`, in the file a current kernel writes.
    void cpu(int n, const std::string& siblings, const char* file = "core_cpus_list") {
        write("cpu" + std::to_string(n) + "/topology/" + file, siblings + "\n");
    }
    std::string path() const { return m_root.string(); }

  private:
    fs::path m_root;
};

long online_cpus() { return sysconf(_SC_NPROCESSORS_ONLN); }

}  // namespace

TEST(CpuList, ParsesTheKernelsRangeLists) {
    EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
    EXPECT_EQ(parse_cpu_list("5"), (std::vector<int>{5}));
    EXPECT_EQ(parse_cpu_list("\n"), std::vector<int>{});
    EXPECT_FALSE(parse_cpu_list("3-1").has_value());
    EXPECT_FALSE(parse_cpu_list("0,,2").has_value());
    EXPECT_FALSE(parse_cpu_list("a-b").has_value());
    EXPECT_FALSE(parse_cpu_list("-1").has_value());
}

TEST(PhysicalCores, HyperthreadSiblingsAreOneCore) {
    FakeCpuRoot root;
    root.write("online", "0-3\n");
    root.cpu(0, "0,2");
    root.cpu(1, "1,3");
    root.cpu(2, "0,2");
    root.cpu(3, "1,3");
    EXPECT_EQ(physical_core_count(root.path()), 2);
}

TEST(PhysicalCores, AnOfflineCpuDoesNotEndTheCount) {
    // SMT turned off with interleaved numbering: every odd CPU is offline and has no
    // topology folder. The count used to stop at cpu1 and report 1 core.
    FakeCpuRoot root;
    root.write("online", "0,2,4,6\n");
    for (int cpu : {0, 2, 4, 6}) {
        root.cpu(cpu, std::to_string(cpu));
    }
    root.write("cpu1/online", "0\n");
    EXPECT_EQ(physical_core_count(root.path()), 4);
}

TEST(PhysicalCores, OlderKernelsSiblingFileIsRead) {
    FakeCpuRoot root;
    root.write("online", "0-1\n");
    root.cpu(0, "0-1", "thread_siblings_list");
    root.cpu(1, "0-1", "thread_siblings_list");
    EXPECT_EQ(physical_core_count(root.path()), 1);
}

TEST(PhysicalCores, WithoutTopologyTheOnlineCpuCountIsUsed) {
    FakeCpuRoot empty;
    EXPECT_EQ(physical_core_count(empty.path()), online_cpus());
    FakeCpuRoot no_topology;
    no_topology.write("online", "0-63\n");
    EXPECT_EQ(physical_core_count(no_topology.path()), online_cpus());
}

TEST(PhysicalCores, ThisMachineAgreesWithPsutilsWay) {
    // psutil: the number of distinct core_cpus_list texts among cpu[0-9]* folders.
    std::set<std::string> lists;
    for (const auto& entry : fs::directory_iterator("/sys/devices/system/cpu")) {
        const std::string name = entry.path().filename().string();
        if (name.size() < 4 || name.rfind("cpu", 0) != 0 || !std::isdigit(static_cast<unsigned char>(name[3]))) {
            continue;
        }
        std::ifstream file(entry.path() / "topology" / "core_cpus_list");
        std::string text;
        if (std::getline(file, text)) {
            lists.insert(text);
        }
    }
    const int expected = lists.empty() ? static_cast<int>(online_cpus()) : static_cast<int>(lists.size());
    EXPECT_EQ(physical_core_count(), expected);
}
