#include "acc/store/client_protocol.hpp"

#include <cstring>
#include <stdexcept>

#include "acc/store/protocol.hpp"

namespace acc::store {

namespace {

// Opcodes of the current dialect (QueryType).
enum : std::uint8_t {
    k_validate = 0,
    k_set = 1,
    k_get = 3,
    k_add = 4,
    k_check = 5,
    k_wait = 6,
    k_delete_key = 8,
    k_multi_get = 10,
    k_multi_set = 11,
    k_cancel_wait = 12,
    k_ping = 13,
};

std::string keys_request(std::uint8_t op, const std::vector<std::string>& keys) {
    std::string out;
    put_u8(out, op);
    put_i64(out, static_cast<std::int64_t>(keys.size()));
    for (const auto& k : keys) {
        put_bytes(out, k);
    }
    return out;
}

template <typename T>
std::optional<T> decode_raw(std::string_view buf, size_t& consumed) {
    if (buf.size() < sizeof(T)) {
        return std::nullopt;
    }
    T v;
    std::memcpy(&v, buf.data(), sizeof(T));
    consumed = sizeof(T);
    return v;
}

}  // namespace

std::string encode_validate() {
    std::string out;
    put_u8(out, k_validate);
    put_u32(out, k_validate_magic);
    return out;
}

std::string encode_ping(std::uint32_t nonce) {
    std::string out;
    put_u8(out, k_ping);
    put_u32(out, nonce);
    return out;
}

std::string encode_set(std::string_view key, std::string_view value) {
    std::string out;
    put_u8(out, k_set);
    put_bytes(out, key);
    put_bytes(out, value);
    return out;
}

std::string encode_get(std::string_view key) {
    std::string out;
    put_u8(out, k_get);
    put_bytes(out, key);
    return out;
}

std::string encode_add(std::string_view key, std::int64_t delta) {
    std::string out;
    put_u8(out, k_add);
    put_bytes(out, key);
    put_i64(out, delta);
    return out;
}

std::string encode_check(const std::vector<std::string>& keys) { return keys_request(k_check, keys); }

std::string encode_wait(const std::vector<std::string>& keys) { return keys_request(k_wait, keys); }

std::string encode_cancel_wait() { return std::string(1, static_cast<char>(k_cancel_wait)); }

std::string encode_multi_get(const std::vector<std::string>& keys) { return keys_request(k_multi_get, keys); }

std::string encode_multi_set(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
    if (keys.size() != values.size()) {
        throw std::invalid_argument("encode_multi_set: as many values as keys");
    }
    std::string out;
    put_u8(out, k_multi_set);
    put_i64(out, static_cast<std::int64_t>(keys.size()));
    for (size_t i = 0; i < keys.size(); ++i) {
        put_bytes(out, keys[i]);
        put_bytes(out, values[i]);
    }
    return out;
}

std::string encode_delete_key(std::string_view key) {
    std::string out;
    put_u8(out, k_delete_key);
    put_bytes(out, key);
    return out;
}

std::optional<std::uint8_t> decode_u8(std::string_view buf, size_t& consumed) {
    return decode_raw<std::uint8_t>(buf, consumed);
}

std::optional<std::uint32_t> decode_u32(std::string_view buf, size_t& consumed) {
    return decode_raw<std::uint32_t>(buf, consumed);
}

std::optional<std::int64_t> decode_i64(std::string_view buf, size_t& consumed) {
    return decode_raw<std::int64_t>(buf, consumed);
}

std::optional<std::string> decode_bytes(std::string_view buf, size_t& consumed, std::uint64_t max_len) {
    size_t head = 0;
    auto len = decode_raw<std::uint64_t>(buf, head);
    if (!len) {
        return std::nullopt;
    }
    if (*len > max_len) {
        throw std::length_error("store reply of " + std::to_string(*len) + " bytes exceeds the limit");
    }
    if (buf.size() - head < *len) {
        return std::nullopt;
    }
    consumed = head + static_cast<size_t>(*len);
    return std::string(buf.substr(head, static_cast<size_t>(*len)));
}

}  // namespace acc::store
