// The agent store: a torch-compatible TCPStore server hosted by the launcher on its own thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "acc/store/protocol.hpp"
#include "acc/store/store_state.hpp"

namespace acc::proc {

class StoreServer {
  public:
    // Bind `host`:`port` (0: the kernel picks) and listen. The port is held from
    // here on, before any worker starts. Throws std::system_error (EADDRINUSE, ...).
    StoreServer(const std::string& host, int port, store::Limits limits = {});
    ~StoreServer();
    StoreServer(const StoreServer&) = delete;
    StoreServer& operator=(const StoreServer&) = delete;

    int port() const { return m_port; }

    // Serve on a thread of its own (with every signal blocked, so signals keep
    // reaching the supervisor's signalfd) until destruction.
    void start();

    // Run `fn` on the store state while the server thread is kept out.
    void with_state(const std::function<void(store::StoreState&)>& fn);

    // Called on the server thread when a client connection closes, with the keys it had
    // ADDed; the key-value pairs it returns are SET (waking whoever waits for them).
    using DisconnectHook = std::function<std::vector<std::pair<std::string, std::string>>(
        const std::vector<std::string>& added, const store::StoreState& state)>;
    void on_disconnect(DisconnectHook hook);

  private:
    void serve();

    int m_listen_fd = -1;
    int m_wake_fd = -1;
    int m_port = 0;
    store::Limits m_limits;
    std::mutex m_mutex;
    store::StoreState m_state;
    DisconnectHook m_on_disconnect;  // guarded by m_mutex
    std::thread m_thread;
    std::atomic<bool> m_stop{false};
};

}  // namespace acc::proc
