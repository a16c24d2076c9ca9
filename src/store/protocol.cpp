#include "acc/store/protocol.hpp"

#include <cstring>

namespace acc::store {

namespace {

// Opcode numbers per dialect (torchrun-contract 4.3 / 4.4).
bool opcode_to_op(std::uint8_t code, Dialect dialect, Op& op) {
    static const Op current[] = {Op::validate,    Op::set,        Op::compare_set, Op::get,       Op::add,
                                 Op::check,       Op::wait,       Op::num_keys,    Op::delete_key, Op::append,
                                 Op::multi_get,   Op::multi_set,  Op::cancel_wait, Op::ping,      Op::queue_push,
                                 Op::queue_pop,   Op::queue_len,  Op::list_keys,   Op::barrier};
    static const Op legacy[] = {Op::set,        Op::compare_set, Op::get,       Op::add,       Op::check,
                                Op::wait,       Op::num_keys,    Op::watch_key, Op::delete_key, Op::append,
                                Op::multi_get,  Op::multi_set,   Op::cancel_wait};
    if (dialect == Dialect::legacy) {
        if (code >= sizeof(legacy) / sizeof(legacy[0])) {
            return false;
        }
        op = legacy[code];
        return true;
    }
    if (code >= sizeof(current) / sizeof(current[0])) {
        return false;
    }
    op = current[code];
    return true;
}

class Reader {
  public:
    Reader(std::string_view buf, const Limits& limits) : m_buf(buf), m_limits(limits) {}

    bool u8(std::uint8_t& v) { return raw(&v, 1); }
    bool u32(std::uint32_t& v) { return raw(&v, 4); }
    bool u64(std::uint64_t& v) { return raw(&v, 8); }
    bool i64(std::int64_t& v) { return raw(&v, 8); }

    // A length-prefixed string; sets m_error when the length breaks `limit`.
    bool bytes(std::string& out, std::uint64_t limit, const char* what) {
        std::uint64_t len = 0;
        if (!u64(len)) {
            return false;
        }
        if (len > limit) {
            m_error = std::string(what) + " of " + std::to_string(len) + " bytes exceeds the limit of " +
                      std::to_string(limit);
            return false;
        }
        if (m_buf.size() - m_pos < len) {
            return false;
        }
        out.assign(m_buf.data() + m_pos, len);
        m_pos += len;
        return true;
    }
    bool key(std::string& out) { return bytes(out, m_limits.max_key, "key"); }
    bool value(std::string& out) { return bytes(out, m_limits.max_value, "value"); }

    bool count(std::uint64_t& n) {
        if (!u64(n)) {
            return false;
        }
        if (n > m_limits.max_keys_per_request) {
            m_error = "request with " + std::to_string(n) + " keys exceeds the limit of " +
                      std::to_string(m_limits.max_keys_per_request);
            return false;
        }
        return true;
    }

    size_t pos() const { return m_pos; }
    const std::string& error() const { return m_error; }

  private:
    bool raw(void* dst, size_t n) {
        if (m_buf.size() - m_pos < n) {
            return false;
        }
        std::memcpy(dst, m_buf.data() + m_pos, n);  // little-endian hosts, as torch assumes
        m_pos += n;
        return true;
    }

    std::string_view m_buf;
    const Limits& m_limits;
    size_t m_pos = 0;
    std::string m_error;
};

bool read_body(Reader& r, Request& req) {
    switch (req.op) {
    case Op::validate:
    case Op::ping: return r.u32(req.word);
    case Op::set:
    case Op::append:
    case Op::queue_push: {
        req.keys.resize(1);
        req.values.resize(1);
        return r.key(req.keys[0]) && r.value(req.values[0]);
    }
    case Op::compare_set: {
        req.keys.resize(1);
        req.values.resize(2);
        return r.key(req.keys[0]) && r.value(req.values[0]) && r.value(req.values[1]);
    }
    case Op::get:
    case Op::delete_key:
    case Op::queue_pop:
    case Op::queue_len:
    case Op::watch_key: {
        req.keys.resize(1);
        return r.key(req.keys[0]);
    }
    case Op::add:
    case Op::barrier: {
        req.keys.resize(1);
        return r.key(req.keys[0]) && r.i64(req.number);
    }
    case Op::check:
    case Op::wait:
    case Op::multi_get: {
        std::uint64_t n = 0;
        if (!r.count(n)) {
            return false;
        }
        for (std::uint64_t i = 0; i < n; ++i) {
            std::string k;
            if (!r.key(k)) {
                return false;
            }
            req.keys.push_back(std::move(k));
        }
        return true;
    }
    case Op::multi_set: {
        std::uint64_t n = 0;
        if (!r.count(n)) {
            return false;
        }
        for (std::uint64_t i = 0; i < n; ++i) {
            std::string k;
            std::string v;
            if (!r.key(k) || !r.value(v)) {
                return false;
            }
            req.keys.push_back(std::move(k));
            req.values.push_back(std::move(v));
        }
        return true;
    }
    case Op::num_keys:
    case Op::cancel_wait:
    case Op::list_keys: return true;
    }
    return false;
}

}  // namespace

const char* op_name(Op op) {
    switch (op) {
    case Op::validate: return "VALIDATE";
    case Op::set: return "SET";
    case Op::compare_set: return "COMPARE_SET";
    case Op::get: return "GET";
    case Op::add: return "ADD";
    case Op::check: return "CHECK";
    case Op::wait: return "WAIT";
    case Op::num_keys: return "GETNUMKEYS";
    case Op::delete_key: return "DELETE_KEY";
    case Op::append: return "APPEND";
    case Op::multi_get: return "MULTI_GET";
    case Op::multi_set: return "MULTI_SET";
    case Op::cancel_wait: return "CANCEL_WAIT";
    case Op::ping: return "PING";
    case Op::queue_push: return "QUEUE_PUSH";
    case Op::queue_pop: return "QUEUE_POP";
    case Op::queue_len: return "QUEUE_LEN";
    case Op::list_keys: return "LIST_KEYS";
    case Op::barrier: return "BARRIER";
    case Op::watch_key: return "WATCH_KEY";
    }
    return "?";
}

Dialect detect_dialect(std::string_view first) {
    static const char magic[5] = {0x00, static_cast<char>(0xCE), static_cast<char>(0xF7), static_cast<char>(0x85),
                                  0x3C};
    size_t n = std::min<size_t>(first.size(), 5);
    if (std::memcmp(first.data(), magic, n) != 0) {
        return Dialect::legacy;
    }
    return n == 5 ? Dialect::current : Dialect::unknown;
}

Parsed parse_request(std::string_view buffer, Dialect dialect, const Limits& limits) {
    Parsed p;
    Reader r(buffer, limits);
    std::uint8_t code = 0;
    if (!r.u8(code)) {
        return p;
    }
    if (!opcode_to_op(code, dialect, p.request.op)) {
        p.status = ParseStatus::error;
        p.error = "unknown opcode " + std::to_string(code);
        return p;
    }
    if (!read_body(r, p.request)) {
        if (!r.error().empty()) {
            p.status = ParseStatus::error;
            p.error = r.error();
        }
        return p;
    }
    p.status = ParseStatus::ok;
    p.consumed = r.pos();
    return p;
}

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_i64(std::string& out, std::int64_t v) {
    char b[8];
    std::memcpy(b, &v, 8);
    out.append(b, 8);
}

void put_u32(std::string& out, std::uint32_t v) {
    char b[4];
    std::memcpy(b, &v, 4);
    out.append(b, 4);
}

void put_bytes(std::string& out, std::string_view v) {
    put_i64(out, static_cast<std::int64_t>(v.size()));
    out.append(v);
}

}  // namespace acc::store
