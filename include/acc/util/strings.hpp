// Small string helpers shared by the pure layers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace acc {

std::vector<std::string> split(std::string_view text, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string to_lower(std::string_view text);
std::string to_upper(std::string_view text);
std::string trim(std::string_view text);

// Python int(text): optional sign, digits with single underscores, surrounding blanks.
std::optional<std::int64_t> parse_python_int(std::string_view text);
// A number in Python's int() syntax but beyond 64 bits: the message should say "too
// large", not "not a number".
bool is_python_int_too_large(std::string_view text);
// Python float(text), including inf/nan spellings.
std::optional<double> parse_python_float(std::string_view text);
// accelerate's str_to_bool: y/yes/t/true/on/1 -> 1, n/no/f/false/off/0 -> 0.
std::optional<int> str_to_bool(std::string_view text);

// A byte count for people: "512 B", "3.4 KiB", "1.2 GiB".
std::string format_bytes(std::uint64_t bytes);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is close enough to be a likely typo.
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

// Quote an argument for display the way a POSIX shell would need it.
std::string shell_quote(std::string_view arg);

// JSON text as yaml-cpp (our JSON reader) takes it. Python's json.dump writes a character
// outside the Basic Multilingual Plane as a UTF-16 surrogate pair ("\ud83d\ude00"), and
// may write a lone surrogate (a file name read with surrogateescape); yaml-cpp refuses
// both. A pair becomes YAML's "\U0001F600", a lone surrogate "\uFFFD".
std::string json_surrogates_for_yaml(std::string_view json);

}  // namespace acc
