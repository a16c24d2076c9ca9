// The run folder holding torchrun-style error files, removed when the run ends.
#pragma once

#include <optional>
#include <string>

namespace acc::proc {

// Lays out <base>/<run_id>_<random>/attempt_<n>/<local_rank>/error.json as torchrun does.
// Without a log dir, <base> is a fresh $TMPDIR/torchelastic_<random> that is removed
// (with everything in it) on destruction; a user's --log_dir is kept.
class RunDir {
  public:
    RunDir(const std::optional<std::string>& log_dir, const std::string& run_id);
    ~RunDir();
    RunDir(const RunDir&) = delete;
    RunDir& operator=(const RunDir&) = delete;

    // Creates the attempt/rank folder and returns the error-file path in it.
    std::string error_file(int attempt, int local_rank);
    // Creates the attempt/rank folder and returns it (stdout.log, stderr.log go there).
    std::string rank_dir(int attempt, int local_rank);
    // Keep a temporary base too (it holds the workers' log files).
    void keep() { m_remove_base = false; }
    const std::string& base() const { return m_base; }
    const std::string& path() const { return m_run; }

  private:
    std::string m_base;
    std::string m_run;
    bool m_remove_base = false;
};

// Remove a folder tree (no following of symlinks). Errors are ignored.
void remove_tree(const std::string& path);

}  // namespace acc::proc
