// Per-rank console output when --tee is on: split a byte stream into lines and put
// torchrun's `[default0]:` prefix in front of each. Pure (no system calls): the
// supervisor feeds it what it reads from a worker's pipe and writes what comes out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace acc::launch {

// Splits a stream into segments, each ending in '\n', "\r\n" or a lone '\r' (a
// progress bar's redraw: it is kept, so the bar still redraws in place, each
// frame with its prefix), and appends every complete segment, prefixed, to the
// caller's buffer. A segment is never cut, so the caller can write the buffer
// with one write(2) and lines of different ranks never mix mid-line. Only a line
// longer than `max_line` is handed out in pieces (the first with the prefix) so
// memory stays bounded.
class LinePrefixer {
  public:
    explicit LinePrefixer(std::string prefix, size_t max_line = size_t{1} << 20);

    // Append to `out` every segment that `data` completes.
    void feed(std::string_view data, std::string& out);
    // End of stream: append what is left (a last line without its newline),
    // prefixed and with a '\n' added, so the next rank's line starts on a line of its own.
    void finish(std::string& out);
    // Hand out the unfinished segment held back so far, as it is (a prompt, a row of
    // progress dots that waited long enough): what follows continues it without a prefix.
    // A '\r' at its end stays held back (it may start "\r\n").
    void flush_partial(std::string& out);

    // The last thing handed out ended no segment (a flushed partial line, a long line's
    // piece): what comes next continues it, without a prefix.
    bool continues_a_piece() const { return m_continuation; }
    // The console ended that piece's line itself (another writer's text came between).
    // What follows starts a segment of its own, prefixed; a '\r' held back from the piece
    // and a '\n' right after it would only end the line again, and are dropped.
    void piece_ended_elsewhere();

    // Bytes held back waiting for the end of their line.
    size_t pending() const { return m_partial.size(); }
    const std::string& prefix() const { return m_prefix; }

  private:
    void emit(std::string_view tail, std::string& out);
    void feed_unprefixed(std::string_view data, std::string& out);
    // Hands out, in pieces of max_line, a held-back segment that grew that long.
    void hand_out_overlong(std::string& out);

    std::string m_prefix;
    size_t m_max_line;
    std::string m_partial;        // the start of an unfinished segment
    bool m_continuation = false;  // m_partial continues a piece already handed out
    bool m_drop_newline = false;  // see piece_ended_elsewhere()
};

}  // namespace acc::launch
