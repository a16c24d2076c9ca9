#include "acc/proc/host_probe.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "acc/proc/kernel_file.hpp"
#include "acc/util/strings.hpp"

namespace acc::proc {

int count_visible_devices(const std::string& visible, int physical) {
    int count = 0;
    std::set<std::string> seen;
    for (const auto& raw : split(visible, ',')) {
        std::string entry = trim(raw);
        if (entry.rfind("GPU-", 0) == 0 || entry.rfind("MIG-", 0) == 0) {
            if (!seen.insert(entry).second) {
                break;
            }
            ++count;
            continue;
        }
        auto idx = parse_python_int(entry);
        if (!idx || *idx < 0 || *idx >= physical || !seen.insert(std::to_string(*idx)).second) {
            break;  // CUDA ignores this entry and everything after it
        }
        ++count;
    }
    return count;
}

NvidiaInventory nvidia_inventory() {
    NvidiaInventory inv;
    // No NVIDIA driver loaded (no /dev/nvidiactl, no /proc/driver/nvidia, also absent in
    // containers without GPUs): skip the library search and its ~40 failed lookups.
    if (access("/dev/nvidiactl", F_OK) != 0 && access("/proc/driver/nvidia", F_OK) != 0) {
        return inv;
    }
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!lib) {
        return inv;
    }
    using InitFn = int (*)();
    using CountFn = int (*)(unsigned int*);
    using HandleFn = int (*)(unsigned int, void**);
    using NameFn = int (*)(void*, char*, unsigned int);
    using DriverFn = int (*)(char*, unsigned int);
    auto init = reinterpret_cast<InitFn>(dlsym(lib, "nvmlInit_v2"));
    auto count_fn = reinterpret_cast<CountFn>(dlsym(lib, "nvmlDeviceGetCount_v2"));
    auto handle_fn = reinterpret_cast<HandleFn>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
    auto name_fn = reinterpret_cast<NameFn>(dlsym(lib, "nvmlDeviceGetName"));
    auto driver_fn = reinterpret_cast<DriverFn>(dlsym(lib, "nvmlSystemGetDriverVersion"));
    auto shutdown = reinterpret_cast<InitFn>(dlsym(lib, "nvmlShutdown"));
    unsigned int physical = 0;
    if (init && count_fn && init() == 0) {
        if (count_fn(&physical) != 0) {
            physical = 0;
        }
        inv.devices = static_cast<int>(physical);
        char buf[96];
        for (unsigned int i = 0; handle_fn && name_fn && i < physical; ++i) {
            void* device = nullptr;
            if (handle_fn(i, &device) == 0 && name_fn(device, buf, sizeof buf) == 0) {
                inv.names.emplace_back(buf);
            }
        }
        if (driver_fn && driver_fn(buf, sizeof buf) == 0) {
            inv.driver_version = buf;
        }
        if (shutdown) {
            shutdown();
        }
    }
    dlclose(lib);
    return inv;
}

int cuda_device_count(const Environment& env) {
    const int physical = nvidia_inventory().devices;
    auto visible = env.get("CUDA_VISIBLE_DEVICES");
    if (!visible) {
        return physical;
    }
    return count_visible_devices(*visible, physical);
}

std::optional<std::vector<int>> parse_cpu_list(std::string_view text) {
    std::vector<int> cpus;
    const std::string list = trim(text);
    if (list.empty()) {
        return cpus;
    }
    auto number = [](const std::string& s) -> std::optional<int> {
        if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) {
            return std::nullopt;
        }
        return std::stoi(s);
    };
    for (const auto& item : split(list, ',')) {
        const auto dash = item.find('-');
        auto first = number(item.substr(0, dash));
        auto last = dash == std::string::npos ? first : number(item.substr(dash + 1));
        if (!first || !last || *last < *first) {
            return std::nullopt;
        }
        for (int cpu = *first; cpu <= *last; ++cpu) {
            cpus.push_back(cpu);
        }
    }
    return cpus;
}

int physical_core_count(const std::string& cpu_root) {
    // psutil counts the distinct core_cpus_list (formerly thread_siblings_list) files of
    // the CPUs that have a topology folder, which offline CPUs lack. Walking the online
    // list and skipping the siblings of a core already counted gives the same number
    // with one read per core, and holes in the numbering (a CPU taken offline, SMT
    // turned off) do not end the count early.
    std::vector<int> online;
    if (auto text = read_kernel_file(cpu_root + "/online", 64 * 1024)) {
        online = parse_cpu_list(*text).value_or(std::vector<int>{});
    }
    std::set<int> counted;
    int cores = 0;
    for (int cpu : online) {
        if (counted.count(cpu) != 0) {
            continue;
        }
        const std::string topology = cpu_root + "/cpu" + std::to_string(cpu) + "/topology/";
        auto siblings = read_kernel_file(topology + "core_cpus_list", 64 * 1024);
        if (!siblings) {
            siblings = read_kernel_file(topology + "thread_siblings_list", 64 * 1024);
        }
        if (!siblings) {
            continue;
        }
        ++cores;
        counted.insert(cpu);
        for (int sibling : parse_cpu_list(*siblings).value_or(std::vector<int>{})) {
            counted.insert(sibling);
        }
    }
    if (cores == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? static_cast<int>(n) : 1;
    }
    return cores;
}

bool port_in_use(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool in_use = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return in_use;
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof addr;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

std::optional<std::string> find_executable(const std::string& name, const Environment& env) {
    auto runnable = [](const std::string& path) {
        struct stat st {};
        return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) {
        return runnable(name) ? std::optional<std::string>(name) : std::nullopt;
    }
    for (const auto& dir : split(env.get("PATH").value_or("/usr/local/bin:/usr/bin:/bin"), ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (runnable(candidate)) {
            return candidate;
        }
    }
    return std::nullopt;
}

bool launcher_owns_terminal() {
    return isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
}

std::string current_directory() {
    char buf[4096];
    if (getcwd(buf, sizeof buf)) {
        return buf;
    }
    return ".";
}

}  // namespace acc::proc
