#include "acc/proc/run_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace acc::proc {

namespace {

std::string make_temp_dir(const std::string& pattern_prefix) {
    std::string pattern = pattern_prefix + "XXXXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    return buf.data();
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

std::string RunDir::error_file(int attempt, int local_rank) {
    std::string dir = m_run + "/attempt_" + std::to_string(attempt) + "/" + std::to_string(local_rank);
    make_dirs(dir);
    return dir + "/error.json";
}

void remove_tree(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace acc::proc
