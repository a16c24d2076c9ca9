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
};

struct WorkerStreams {
    StreamMode out = StreamMode::inherit;
    StreamMode err = StreamMode::inherit;
    bool captured() const { return out != StreamMode::inherit || err != StreamMode::inherit; }
};

// tee wins over redirect for a stream (torchrun: tee = redirect + tail).
WorkerStreams worker_streams(int redirects, int tee);

// torchrun's console prefix: TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE (string.Template
// with ${role_name}, ${rank}, ${local_rank}; safe_substitute) or "[<role><local_rank>]:".
std::string line_prefix(const std::optional<std::string>& templ, const std::string& role, int rank,
                        int local_rank);

// The last `n` lines of `text` (without the final newline), e.g. a log file's tail.
std::string last_lines(const std::string& text, size_t n);

}  // namespace acc::launch
