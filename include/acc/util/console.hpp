// Messages to the user on stdout and stderr. Writing them never throws (fmt::print
// does, on a short write): a terminal that hung up (EIO), a full disk or a closed
// stderr must not turn the launcher's teardown into an abort that leaves the workers'
// children and the run folder behind. What could not be written to stdout is
// remembered, so a command whose job is its output can still fail for it at the end.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace acc {

void write_stdout(std::string_view text);
void write_stderr(std::string_view text);

template <typename... T>
void print_stdout(fmt::format_string<T...> format, T&&... args) {
    write_stdout(fmt::format(format, std::forward<T>(args)...));
}

template <typename... T>
void print_stderr(fmt::format_string<T...> format, T&&... args) {
    write_stderr(fmt::format(format, std::forward<T>(args)...));
}

// Flushes stdout; why some of it was lost (e.g. "No space left on device"), if it was.
std::optional<std::string> stdout_write_failure();

}  // namespace acc
