#include "acc/proc/run_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <system_error>
#include <vector>

namespace acc::proc {

namespace {

// mkdtemp(3) only fills six X's; Python's tempfile.mkdtemp (what torchrun uses)
// appends 8 characters from [a-z0-9_], so do the same, retrying on a clash.
std::string make_temp_dir(const std::string& prefix) {
    static const char k_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
    std::random_device rd;
    std::uniform_int_distribution<size_t> pick(0, sizeof(k_chars) - 2);
    for (int tries = 0; tries < 100; ++tries) {
        std::string path = prefix;
        for (int i = 0; i < 8; ++i) {
            path += k_chars[pick(rd)];
        }
        if (mkdir(path.c_str(), 0700) == 0) {
            return path;
        }
        if (errno != EEXIST) {
            throw std::system_error(errno, std::generic_category(), "mkdir " + path);
        }
    }
    throw std::system_error(EEXIST, std::generic_category(), "mkdir " + prefix + "*");
}

void make_dirs(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) {
        throw std::system_error(ec, "mkdir " + path);
    }
}

}  // namespace

RunDir::RunDir(const std::optional<std::string>& log_dir, const std::string& run_id) {
    if (log_dir) {
        m_base = *log_dir;
        make_dirs(m_base);
    } else {
        const char* tmp = std::getenv("TMPDIR");
        m_base = make_temp_dir(std::string(tmp && *tmp ? tmp : "/tmp") + "/torchelastic_");
        m_remove_base = true;
    }
    m_run = make_temp_dir(m_base + "/" + run_id + "_");
}

RunDir::~RunDir() {
    if (m_remove_base) {
        remove_tree(m_base);
    }
}

std::string RunDir::rank_dir(int attempt, int local_rank) {
    std::string dir = m_run + "/attempt_" + std::to_string(attempt) + "/" + std::to_string(local_rank);
    make_dirs(dir);
    return dir;
}

std::string RunDir::error_file(int attempt, int local_rank) { return rank_dir(attempt, local_rank) + "/error.json"; }

void remove_tree(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace acc::proc
