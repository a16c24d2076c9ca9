#include "acc/proc/host_probe.hpp"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <pthread.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <set>
#include <system_error>
#include <thread>

#include "acc/proc/kernel_file.hpp"
#include "acc/util/strings.hpp"

namespace acc::proc {

namespace {

// strtoul's reading of one index entry, as CUDA reads it: an optional sign, then the
// leading digits ("0abc" is 0, "+1" is 1); -1 when there are none or it is negative.
long long leading_index(const std::string& entry) {
    size_t i = 0;
    if (i < entry.size() && (entry[i] == '+' || entry[i] == '-')) {
        ++i;
    }
    const size_t digits = i;
    long long value = 0;
    for (; i < entry.size() && std::isdigit(static_cast<unsigned char>(entry[i])); ++i) {
        // Any number past a billion is past every machine's last GPU: keep it there.
        value = std::min(value * 10 + (entry[i] - '0'), 1'000'000'000LL);
    }
    if (i == digits) {
        return -1;
    }
    return entry[0] == '-' && value != 0 ? -1 : value;
}

}  // namespace

int count_visible_devices(const std::string& visible, const std::vector<std::string>& uuids,
                          const std::vector<std::string>& mig_uuids) {
    std::vector<long long> chosen;  // device ordinals, in the order the variable names them
    const bool by_uuid = visible.rfind("GPU-", 0) == 0;
    const bool by_mig = visible.rfind("MIG-", 0) == 0;
    std::vector<std::string> named;
    for (const auto& raw : split(visible, ',')) {
        if (by_uuid || by_mig) {
            // A list of UUIDs: it ends at the first entry of another kind.
            if (raw.rfind(by_uuid ? "GPU-" : "MIG-", 0) != 0) {
                break;
            }
            if (std::find(named.begin(), named.end(), raw) != named.end()) {
                return 0;  // a device named twice hides them all
            }
            named.push_back(raw);
            continue;
        }
        const long long index = leading_index(trim(raw));
        if (index < 0) {
            break;
        }
        if (std::find(chosen.begin(), chosen.end(), index) != chosen.end()) {
            return 0;
        }
        chosen.push_back(index);
    }
    if (by_uuid || by_mig) {
        // Each entry is the start of exactly one GPU's (or MIG instance's) UUID; none or
        // several end the list.
        const auto& known = by_mig ? mig_uuids : uuids;
        for (const auto& entry : named) {
            long long match = -1;
            for (long long i = 0; i < static_cast<long long>(known.size()); ++i) {
                if (known[static_cast<size_t>(i)].rfind(entry, 0) == 0) {
                    match = match == -1 ? i : -2;
                }
            }
            if (match < 0) {
                break;
            }
            if (std::find(chosen.begin(), chosen.end(), match) != chosen.end()) {
                return 0;
            }
            chosen.push_back(match);
        }
        return static_cast<int>(chosen.size());
    }
    // Indices: the list is cut at the first one the machine does not have.
    for (size_t i = 0; i < chosen.size(); ++i) {
        if (chosen[i] >= static_cast<long long>(uuids.size())) {
            return static_cast<int>(i);
        }
    }
    return static_cast<int>(chosen.size());
}

namespace {

NvidiaInventory read_nvml() {
    NvidiaInventory inv;
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!lib) {
        return inv;
    }
    using InitFn = int (*)();
    using CountFn = int (*)(unsigned int*);
    using HandleFn = int (*)(unsigned int, void**);
    using NameFn = int (*)(void*, char*, unsigned int);
    using DriverFn = int (*)(char*, unsigned int);
    using UuidFn = int (*)(void*, char*, unsigned int);
    using MigCountFn = int (*)(void*, unsigned int*);
    using MigHandleFn = int (*)(void*, unsigned int, void**);
    auto init = reinterpret_cast<InitFn>(dlsym(lib, "nvmlInit_v2"));
    auto count_fn = reinterpret_cast<CountFn>(dlsym(lib, "nvmlDeviceGetCount_v2"));
    auto handle_fn = reinterpret_cast<HandleFn>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
    auto name_fn = reinterpret_cast<NameFn>(dlsym(lib, "nvmlDeviceGetName"));
    auto driver_fn = reinterpret_cast<DriverFn>(dlsym(lib, "nvmlSystemGetDriverVersion"));
    auto uuid_fn = reinterpret_cast<UuidFn>(dlsym(lib, "nvmlDeviceGetUUID"));
    auto mig_count_fn = reinterpret_cast<MigCountFn>(dlsym(lib, "nvmlDeviceGetMaxMigDeviceCount"));
    auto mig_handle_fn = reinterpret_cast<MigHandleFn>(dlsym(lib, "nvmlDeviceGetMigDeviceHandleByIndex"));
    auto shutdown = reinterpret_cast<InitFn>(dlsym(lib, "nvmlShutdown"));
    unsigned int physical = 0;
    if (init && count_fn && init() == 0) {
        if (count_fn(&physical) != 0) {
            physical = 0;
        }
        inv.devices = static_cast<int>(physical);
        char buf[96];
        for (unsigned int i = 0; handle_fn && i < physical; ++i) {
            void* device = nullptr;
            if (handle_fn(i, &device) != 0) {
                device = nullptr;
            }
            if (device && name_fn && name_fn(device, buf, sizeof buf) == 0) {
                inv.names.emplace_back(buf);
            }
            // One entry per device, in NVML's order (CUDA_VISIBLE_DEVICES's ordinals).
            inv.uuids.emplace_back(device && uuid_fn && uuid_fn(device, buf, sizeof buf) == 0 ? buf : "");
            // MIG instances, which CUDA_VISIBLE_DEVICES may name by their MIG-... UUIDs.
            unsigned int slots = 0;
            if (device && uuid_fn && mig_count_fn && mig_handle_fn && mig_count_fn(device, &slots) == 0) {
                for (unsigned int slot = 0; slot < slots; ++slot) {
                    void* mig = nullptr;
                    if (mig_handle_fn(device, slot, &mig) == 0 && uuid_fn(mig, buf, sizeof buf) == 0) {
                        inv.mig_uuids.emplace_back(buf);
                    }
                }
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

}  // namespace

NvidiaInventory nvidia_inventory() {
    // libcuda, which NVML loads, starts a thread that outlives the probe (and dlclose),
    // blocking no signal: the kernel could hand it a signal meant for the launcher, whose
    // default action would end the launcher there (seen on an H100). Threads inherit their
    // creator's mask, so NVML is read on a thread of its own that blocks every signal;
    // this one waits for it with its mask as it was, so Ctrl-C still works should the
    // driver be slow to answer.
    NvidiaInventory inv;
    // No NVIDIA driver loaded (no /dev/nvidiactl, no /proc/driver/nvidia, also absent in
    // containers without GPUs): skip the library search and its ~40 failed lookups.
    if (access("/dev/nvidiactl", F_OK) != 0 && access("/proc/driver/nvidia", F_OK) != 0) {
        return inv;
    }
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    try {
        std::thread reader([&inv] { inv = read_nvml(); });
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        reader.join();
    } catch (const std::system_error&) {  // no thread to be had: read it here, still masked
        inv = read_nvml();
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    return inv;
}

int visible_device_count(NvidiaInventory inv, const Environment& env) {
    auto visible = env.get("CUDA_VISIBLE_DEVICES");
    if (!visible) {
        return inv.devices;
    }
    inv.uuids.resize(static_cast<size_t>(inv.devices));
    return count_visible_devices(*visible, inv.uuids, inv.mig_uuids);
}

int cuda_device_count(const Environment& env) { return visible_device_count(nvidia_inventory(), env); }

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
