#include "acc/launch/line_splitter.hpp"

#include <algorithm>
#include <cstring>

namespace acc::launch {

LinePrefixer::LinePrefixer(std::string prefix, size_t max_line)
    : m_prefix(std::move(prefix)), m_max_line(max_line == 0 ? 1 : max_line) {}

// One finished segment: what was held back, then `tail` (which ends it).
void LinePrefixer::emit(std::string_view tail, std::string& out) {
    if (!m_continuation) {
        out += m_prefix;
    }
    out += m_partial;
    out.append(tail.data(), tail.size());
    m_partial.clear();
    m_continuation = false;
}

void LinePrefixer::feed(std::string_view data, std::string& out) {
    if (m_drop_newline && !data.empty()) {
        m_drop_newline = false;
        if (data.front() == '\n') {
            data.remove_prefix(1);
        }
    }
    const char* p = data.data();
    const size_t n = data.size();
    size_t pos = 0;
    if (n == 0) {
        return;
    }
    if (m_prefix.empty()) {
        feed_unprefixed(data, out);
        return;
    }
    // A '\r' held back at the end of the previous read: "\r\n" or a lone '\r'?
    if (!m_partial.empty() && m_partial.back() == '\r') {
        if (p[0] == '\n') {
            emit(std::string_view(p, 1), out);
            pos = 1;
        } else {
            emit({}, out);
        }
    }
    // Next '\n' and '\r' at or after pos (n: none); each is searched for again only once passed.
    auto find = [&](char c, size_t from) -> size_t {
        const void* hit = from < n ? std::memchr(p + from, c, n - from) : nullptr;
        return hit ? static_cast<size_t>(static_cast<const char*>(hit) - p) : n;
    };
    size_t next_nl = find('\n', pos);
    size_t next_cr = find('\r', pos);
    while (pos < n) {
        if (next_nl < pos) {
            next_nl = find('\n', pos);
        }
        if (next_cr < pos) {
            next_cr = find('\r', pos);
        }
        size_t t = next_nl < next_cr ? next_nl : next_cr;
        if (t == n) {
            break;
        }
        size_t end = t + 1;
        if (p[t] == '\r') {
            if (t + 1 == n) {
                break;  // cannot tell "\r\n" yet: hold the '\r' back
            }
            if (p[t + 1] == '\n') {
                end = t + 2;
            }
        }
        emit(std::string_view(p + pos, end - pos), out);
        pos = end;
    }
    m_partial.append(p + pos, n - pos);
    hand_out_overlong(out);
}

// Without a prefix, segment boundaries change no byte of the output, only where it may
// be cut: every segment `data` completes goes out as one block, found with two reverse
// scans instead of one scan and one append per line (joined output at saturation is
// millions of short lines).
void LinePrefixer::feed_unprefixed(std::string_view data, std::string& out) {
    const char* p = data.data();
    const size_t n = data.size();
    auto after_last = [p](char c, size_t len) -> size_t {  // one past the last `c` in p[0, len); 0: none
        const void* hit = memrchr(p, c, len);
        return hit ? static_cast<size_t>(static_cast<const char*>(hit) - p) + 1 : 0;
    };
    size_t after_cr = after_last('\r', n);
    if (after_cr == n) {
        after_cr = after_last('\r', after_cr - 1);  // a final '\r' may start "\r\n": it stays held back
    }
    const size_t cut = std::max(after_last('\n', n), after_cr);
    if (cut > 0 || (!m_partial.empty() && m_partial.back() == '\r')) {
        // (With nothing to cut, `data` has no '\n': a '\r' held back ends its segment alone.)
        out += m_partial;
        out.append(p, cut);
        m_partial.clear();
        m_continuation = false;
    }
    m_partial.append(p + cut, n - cut);
    hand_out_overlong(out);
}

void LinePrefixer::hand_out_overlong(std::string& out) {
    // A very long line: hand it out in pieces rather than hold it all. A '\r' held back at
    // the end stays held back: it ends this segment (or starts "\r\n"), and handing it out
    // as part of a piece would make the next segment look like this one's continuation.
    while (m_partial.size() >= m_max_line && !(m_partial.size() == m_max_line && m_partial.back() == '\r')) {
        if (!m_continuation) {
            out += m_prefix;
        }
        out.append(m_partial, 0, m_max_line);
        m_partial.erase(0, m_max_line);
        m_continuation = true;
    }
}

void LinePrefixer::piece_ended_elsewhere() {
    if (!m_continuation) {
        return;
    }
    m_continuation = false;
    if (m_partial.empty() || m_partial == "\r") {
        m_partial.clear();
        m_drop_newline = true;
    }
}

void LinePrefixer::finish(std::string& out) {
    if (m_partial.empty()) {
        if (m_continuation) {
            out += '\n';  // the end of a long line handed out in pieces
            m_continuation = false;
        }
        return;
    }
    const bool ended = m_partial.back() == '\r';
    emit({}, out);
    if (!ended) {
        out += '\n';
    }
}

void LinePrefixer::flush_partial(std::string& out) {
    const size_t keep = !m_partial.empty() && m_partial.back() == '\r' ? 1 : 0;
    if (m_partial.size() <= keep) {
        return;
    }
    if (!m_continuation) {
        out += m_prefix;
    }
    out.append(m_partial, 0, m_partial.size() - keep);
    m_partial.erase(0, m_partial.size() - keep);
    m_continuation = true;
}

}  // namespace acc::launch
