// A small c10d TCPStore client (current dialect: VALIDATE + PING), as torch's C++
// client speaks it: how launchers on machines 1..N-1 join machine 0's agent store.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "acc/util/error.hpp"

namespace acc::proc {

using Deadline = std::chrono::steady_clock::time_point;

// Milliseconds left until `deadline` (0 when past), as poll() takes them.
int millis_until(Deadline deadline);

// The connection failed or closed (the store's host ended), or the server broke the protocol.
class StoreConnectionError : public Error {
  public:
    using Error::Error;
};

class StoreClient {
  public:
    // Connect to host:port, retrying with backoff (50 ms doubling to 1 s) until `deadline`,
    // then VALIDATE and PING. Throws StoreConnectionError naming the last reason.
    static StoreClient connect(const std::string& host, int port, Deadline deadline);

    StoreClient(StoreClient&& other) noexcept;
    StoreClient& operator=(StoreClient&& other) noexcept;
    StoreClient(const StoreClient&) = delete;
    StoreClient& operator=(const StoreClient&) = delete;
    ~StoreClient();

    void set(const std::string& key, const std::string& value);
    std::string get(const std::string& key);
    std::int64_t add(const std::string& key, std::int64_t delta);
    bool check(const std::vector<std::string>& keys);
    std::vector<std::string> multi_get(const std::vector<std::string>& keys);
    void multi_set(const std::vector<std::string>& keys, const std::vector<std::string>& values);

    // WAIT for every key, in two halves so a caller can poll fd() together with other
    // things: start_wait sends the request; finish_wait reads the reply (true) once fd()
    // is readable, or cancels the wait (false) when called with cancel = true.
    void start_wait(const std::vector<std::string>& keys);
    // `forever`: the reply may take as long as the keys take to appear (a watcher's wait);
    // otherwise it is due now, and a store that sends no more of it for k_reply_timeout
    // is treated as lost.
    bool finish_wait(bool cancel, bool forever = false);
    // Both halves, up to `deadline`: false on timeout (the wait is cancelled).
    bool wait(const std::vector<std::string>& keys, Deadline deadline);

    // The socket, readable when a started WAIT is answered or the connection closed.
    int fd() const { return m_fd; }
    // Unblock a thread stuck reading this connection (shutdown(2)).
    void shutdown();

    const std::string& endpoint() const { return m_endpoint; }

  private:
    StoreClient(int fd, std::string endpoint) : m_fd(fd), m_endpoint(std::move(endpoint)) {}
    void send_all(const std::string& bytes);
    // Read until `decode` succeeds on the buffered bytes. Unless `forever`, a store that
    // sends nothing for k_reply_timeout (frozen, or not a store at all) is lost.
    template <typename T, typename Decode>
    T read_reply(Decode decode, bool forever = false);

    int m_fd = -1;
    std::string m_endpoint;
    std::string m_in;
};

}  // namespace acc::proc
