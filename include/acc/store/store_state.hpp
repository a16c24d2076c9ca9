// The key-value store behind the agent's TCPStore: keys, queues, waits, barriers. Pure.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "acc/store/protocol.hpp"

namespace acc::store {

using ConnId = std::uint64_t;

struct Reply {
    ConnId conn;
    std::string bytes;
};

// A request the connection must be closed for (e.g. ADD on a non-number).
class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class StoreState {
  public:
    // Apply `req` from `conn`. Returns the bytes to send: to `conn` itself and
    // to any connection whose WAIT or BARRIER this request completed.
    // Throws StoreError when the connection should be dropped.
    std::vector<Reply> apply(ConnId conn, const Request& req);

    // The client went away: forget its pending waits.
    void disconnect(ConnId conn);

    // The keys `conn` has ADDed to, in the order it first did (a launcher's "alive" mark
    // is one: its connection closing says the launcher went away).
    std::vector<std::string> keys_added_by(ConnId conn) const;

    // Forget every key, queue and wait (between restart attempts).
    void clear();

    // Drop the keys that `keep` rejects (e.g. everything but the agents' own).
    template <typename Pred>
    void erase_keys_if(Pred drop) {
        for (auto it = m_kv.begin(); it != m_kv.end();) {
            it = drop(it->first) ? m_kv.erase(it) : std::next(it);
        }
    }

    size_t num_keys() const { return m_kv.size(); }
    bool has_key(const std::string& key) const { return m_kv.count(key) != 0; }
    const std::string* value(const std::string& key) const;

  private:
    bool ready(const std::string& key) const;
    // A key changed: finish the WAITs it completes (queue pushes wake one waiter).
    void wake(const std::string& key, std::vector<Reply>& out, bool only_one = false);
    void wake_barriers(const std::string& key, std::vector<Reply>& out);
    std::int64_t add(const std::string& key, std::int64_t delta);

    std::unordered_map<std::string, std::string> m_kv;
    std::unordered_map<std::string, std::deque<std::string>> m_queues;
    // Requests on one connection are sequential, so each has at most one pending wait.
    std::unordered_map<ConnId, std::set<std::string>> m_waits;
    std::unordered_map<std::string, std::vector<ConnId>> m_waiting_on;  // in arrival order
    std::unordered_map<std::string, std::vector<std::pair<ConnId, std::int64_t>>> m_barriers;
    std::unordered_map<ConnId, std::vector<std::string>> m_added;  // keys_added_by
};

}  // namespace acc::store
