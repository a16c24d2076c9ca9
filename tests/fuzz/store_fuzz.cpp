// libFuzzer target: arbitrary bytes through the TCPStore parser and store, as a hostile client would send them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "acc/store/protocol.hpp"
#include "acc/store/store_state.hpp"

using namespace acc::store;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
    static StoreState state;  // shared across inputs, like a long-lived server
    Limits limits;
    limits.max_key = 256;
    limits.max_value = 4096;
    limits.max_keys_per_request = 64;
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    // Three connections take turns, so waits and wake-ups cross connections.
    ConnId conn = 1 + (size % 3);
    Dialect dialect = detect_dialect(rest);
    if (dialect == Dialect::unknown) {
        return 0;
    }
    while (!rest.empty()) {
        Parsed p = parse_request(rest, dialect, limits);
        if (p.status != ParseStatus::ok) {
            break;
        }
        if (p.consumed == 0 || p.consumed > rest.size()) {
            __builtin_trap();  // the parser must always make progress within the buffer
        }
        try {
            state.apply(conn, p.request);
        } catch (const StoreError&) {
            state.disconnect(conn);
            break;
        }
        rest.remove_prefix(p.consumed);
    }
    state.disconnect(conn);
    if (state.num_keys() > 10000) {
        state.clear();
    }
    return 0;
}
