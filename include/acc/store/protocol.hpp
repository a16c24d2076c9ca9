// The c10d TCPStore wire protocol, both generations: parsing requests and encoding replies. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace acc::store {

// torch >= 2.1 opens each connection with VALIDATE (00 CE F7 85 3C); older
// clients (torch <= 2.0, e.g. Debian 12's 1.13) number their opcodes differently.
enum class Dialect { unknown, current, legacy };

enum class Op {
    validate,
    set,
    compare_set,
    get,
    add,
    check,
    wait,
    num_keys,
    delete_key,
    append,
    multi_get,
    multi_set,
    cancel_wait,
    ping,
    queue_push,
    queue_pop,
    queue_len,
    list_keys,
    barrier,
    watch_key,  // legacy only
};

const char* op_name(Op op);

struct Request {
    Op op = Op::get;
    std::vector<std::string> keys;
    std::vector<std::string> values;  // SET/APPEND/QUEUE_PUSH: 1; COMPARE_SET: expected, desired; MULTI_SET: n
    std::int64_t number = 0;          // ADD delta, BARRIER world size
    std::uint32_t word = 0;           // VALIDATE magic, PING nonce
};

// Bounds that keep a hostile or broken client from costing the launcher memory.
struct Limits {
    std::uint64_t max_key = 64 * 1024;
    std::uint64_t max_value = 64ull * 1024 * 1024;
    std::uint64_t max_keys_per_request = 128 * 1024;
};

enum class ParseStatus { ok, incomplete, error };

struct Parsed {
    ParseStatus status = ParseStatus::incomplete;
    size_t consumed = 0;
    Request request;
    std::string error;  // why the bytes were rejected
};

constexpr std::uint32_t k_validate_magic = 0x3C85F7CE;

// The dialect of a connection from its first bytes: `unknown` while they could
// still be a VALIDATE, else current or legacy for the whole connection.
Dialect detect_dialect(std::string_view first_bytes);

// Parse one request from the front of `buffer`.
Parsed parse_request(std::string_view buffer, Dialect dialect, const Limits& limits = {});

// Reply encoding (little-endian, as the C++ client memcpy's them).
void put_u8(std::string& out, std::uint8_t v);
void put_i64(std::string& out, std::int64_t v);
void put_u32(std::string& out, std::uint32_t v);
void put_bytes(std::string& out, std::string_view v);  // u64 length + bytes

}  // namespace acc::store
