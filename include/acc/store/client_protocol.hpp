// The client side of the c10d TCPStore wire protocol (current dialect, torch >= 2.1):
// request encoding and reply decoding. Pure: no sockets (see proc/store_client.*).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace acc::store {

// Requests, byte for byte as torch's C++ client sends them (torchrun-contract 4.2, 4.3).
std::string encode_validate();                     // 00 CE F7 85 3C, no reply
std::string encode_ping(std::uint32_t nonce);      // reply: the same u32
std::string encode_set(std::string_view key, std::string_view value);  // no reply
std::string encode_get(std::string_view key);      // reply: bytes
std::string encode_add(std::string_view key, std::int64_t delta);      // reply: i64
std::string encode_check(const std::vector<std::string>& keys);        // reply: u8 (0 ready, 1 not)
std::string encode_wait(const std::vector<std::string>& keys);         // reply: u8 0, when all exist
std::string encode_cancel_wait();                  // reply: u8 1 (maybe after a late 0)
std::string encode_multi_get(const std::vector<std::string>& keys);    // reply: n x bytes
std::string encode_multi_set(const std::vector<std::string>& keys, const std::vector<std::string>& values);
std::string encode_delete_key(std::string_view key);                   // reply: i64

constexpr std::uint8_t k_reply_ready = 0;        // CHECK READY, WAIT STOP_WAITING
constexpr std::uint8_t k_reply_not_ready = 1;    // CHECK NOT_READY
constexpr std::uint8_t k_reply_wait_canceled = 1;

// Reply decoding from the front of a buffer: nullopt while incomplete;
// `consumed` gets the bytes used.
std::optional<std::uint8_t> decode_u8(std::string_view buf, size_t& consumed);
std::optional<std::uint32_t> decode_u32(std::string_view buf, size_t& consumed);
std::optional<std::int64_t> decode_i64(std::string_view buf, size_t& consumed);
// A u64-length-prefixed value; `max_len` bounds what a broken server can make us hold
// (longer: std::length_error).
std::optional<std::string> decode_bytes(std::string_view buf, size_t& consumed,
                                        std::uint64_t max_len = 64ull * 1024 * 1024);

}  // namespace acc::store
