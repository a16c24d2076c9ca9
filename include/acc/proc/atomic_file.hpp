// Replacing a file so that readers (and a crash) see either the old or the new content, never a mix.
#pragma once

#include <string>

namespace acc::proc {

// Write `content` to a temporary file in the same folder as `path`, fsync it,
// rename it over `path`, then fsync the folder. The file keeps the mode of the
// file it replaces (0644 & ~umask for a new one). When `path` is a symbolic link,
// the file it leads to is replaced (created if missing) and the link stays, as a
// plain write through it would do. Throws acc::Error naming the path and the OS
// error; the old file is untouched on failure.
void write_file_atomically(const std::string& path, const std::string& content);

// Write `content` to a node that is no regular file (/dev/stdout, a named pipe) in place,
// without ever blocking for good: a pipe nobody has open for reading is refused at once,
// a reader that takes nothing for `patience_ms` is given up on, and so is the write once a
// stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) is pending, as it stays while the
// supervisor blocks them. Throws acc::Error saying why.
void write_in_place(const std::string& path, const std::string& content, int patience_ms);

// The path a write to `path` lands on: symbolic links followed (relative targets
// against the link's folder), the last one even if its target does not exist yet.
std::string resolve_symlinks(const std::string& path);

// mkdir -p; throws acc::Error naming the folder that could not be made.
void make_directories(const std::string& path);

// The parent folder of `path` as os.path.dirname gives it ("" for a bare name).
std::string parent_directory(const std::string& path);

}  // namespace acc::proc
