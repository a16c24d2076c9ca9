// Where each worker's stdout/stderr goes (--redirects, --tee, --log_dir), as torchrun
// decides it. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace acc::launch {

// torchrun's Std: which streams a setting covers.
enum Std : int { std_none = 0, std_out = 1, std_err = 2, std_all = 3 };

// torchrun's Std.from_str / to_map: "0".."3" for every local rank, or "i:v,..."
// per local rank (single-digit ranks; unlisted ranks get 0). Returns one value per
// local rank 0..nproc-1. Throws UsageError with torchrun's wording otherwise:
// "<v> does not match: <^[0123]$> or <^(\d:[0123],)*(\d:[0123])$>".
std::vector<int> parse_std_spec(const std::string& value, int nproc, const std::string& flag);

// What happens to one stream of one worker.
enum class StreamMode {
    inherit,   // the launcher's own fd (default: isatty unchanged)
    file,      // --redirects: only to <rank dir>/std{out,err}.log
    tee,       // --tee: to the file, and to the console with the line prefix
    joined,    // through the launcher to its own fd, whole lines at a time (see join_shared_consoles)
};

struct WorkerStreams {
    StreamMode out = StreamMode::inherit;
    StreamMode err = StreamMode::inherit;
    // Written to log files (--redirects, --tee).
    bool captured() const { return logged(out) || logged(err); }
    bool joined() const { return out == StreamMode::joined || err == StreamMode::joined; }
    static bool logged(StreamMode m) { return m == StreamMode::file || m == StreamMode::tee; }
};

// tee wins over redirect for a stream (torchrun: tee = redirect + tail).
WorkerStreams worker_streams(int redirects, int tee);

// Several workers writing straight to one console mix their lines mid-line whenever a
// write ends no line (`python -u`, PYTHONUNBUFFERED=1: print() writes its text and its
// newline apart). Where nothing else is lost by it, the launcher joins their output
// instead, whole lines at a time: for two workers or more, a stream left inherited whose
// console (the launcher's fd) is no terminal but a pipe, a file or a socket, i.e. a batch
// job's log. A terminal stays the workers' own (isatty, tqdm, rich, pdb).
WorkerStreams join_shared_consoles(WorkerStreams s, size_t workers, bool stdout_joinable, bool stderr_joinable);

// torchrun's console prefix: TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE (string.Template
// with ${role_name}, ${rank}, ${local_rank}; safe_substitute) or "[<role><local_rank>]:".
std::string line_prefix(const std::optional<std::string>& templ, const std::string& role, int rank,
                        int local_rank);

// The last `n` lines of `text` (without the final newline), e.g. a log file's tail.
std::string last_lines(const std::string& text, size_t n);

}  // namespace acc::launch
