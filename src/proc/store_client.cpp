#include "acc/proc/store_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "acc/store/client_protocol.hpp"

namespace acc::proc {

namespace {

// How long a reply that is due may take: a store answers at once, even on a loaded machine.
constexpr std::chrono::milliseconds k_reply_timeout{10000};

using Clock = std::chrono::steady_clock;

// One non-blocking connect to `ai`, bounded by `deadline`; the fd or -1 with `why` set.
int try_connect(const addrinfo* ai, Deadline deadline, std::string& why) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        why = std::strerror(errno);
        return -1;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int left = std::min(millis_until(deadline), 5000);
        rc = poll(&p, 1, left);
        if (rc == 1) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            rc = err == 0 ? 0 : -1;
            errno = err;
        } else {
            int err = rc == 0 || errno == 0 ? ETIMEDOUT : errno;
            rc = -1;
            errno = err;
        }
    }
    if (rc != 0) {
        why = std::strerror(errno);
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A machine that vanishes without closing (power, network) is noticed within ~25 s.
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    int idle = 10;
    int interval = 5;
    int count = 3;
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
    return fd;
}

}  // namespace

int millis_until(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

StoreClient StoreClient::connect(const std::string& host, int port, Deadline deadline) {
    const std::string endpoint = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                                      : fmt::format("{}:{}", host, port);
    std::string why = "timed out";
    auto backoff = std::chrono::milliseconds(50);
    while (true) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        addrinfo* found = nullptr;
        std::string service = std::to_string(port);
        int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
        if (rc != 0) {
            why = fmt::format("cannot resolve '{}': {}", host, gai_strerror(rc));
        } else {
            std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
            for (addrinfo* ai = found; ai; ai = ai->ai_next) {
                int fd = try_connect(ai, deadline, why);
                if (fd < 0) {
                    continue;
                }
                StoreClient client(fd, endpoint);
                try {
                    client.send_all(store::encode_validate() + store::encode_ping(static_cast<std::uint32_t>(getpid())));
                    pollfd p{fd, POLLIN, 0};
                    if (poll(&p, 1, std::max(millis_until(deadline), 1000)) != 1) {
                        throw StoreConnectionError("no answer to PING");
                    }
                    auto nonce = client.read_reply<std::uint32_t>(
                        [](std::string_view b, size_t& n) { return store::decode_u32(b, n); });
                    if (nonce != static_cast<std::uint32_t>(getpid())) {
                        throw StoreConnectionError(
                            fmt::format("ping failed: expected {}, got {}", getpid(), nonce));
                    }
                    return client;
                } catch (const StoreConnectionError& e) {
                    why = e.what();
                }
            }
        }
        if (Clock::now() + backoff >= deadline) {
            throw StoreConnectionError(fmt::format("cannot reach the store at {}: {}", endpoint, why));
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
}

StoreClient::StoreClient(StoreClient&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_endpoint(std::move(other.m_endpoint)), m_in(std::move(other.m_in)) {}

StoreClient& StoreClient::operator=(StoreClient&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) {
            close(m_fd);
        }
        m_fd = std::exchange(other.m_fd, -1);
        m_endpoint = std::move(other.m_endpoint);
        m_in = std::move(other.m_in);
    }
    return *this;
}

StoreClient::~StoreClient() {
    if (m_fd >= 0) {
        close(m_fd);
    }
}

void StoreClient::shutdown() {
    if (m_fd >= 0) {
        ::shutdown(m_fd, SHUT_RDWR);
    }
}

void StoreClient::send_all(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = send(m_fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            throw StoreConnectionError(
                fmt::format("lost the connection to the store at {}: {}", m_endpoint, std::strerror(errno)));
        }
    }
}

template <typename T, typename Decode>
T StoreClient::read_reply(Decode decode, bool forever) {
    char buf[65536];
    while (true) {
        size_t used = 0;
        std::optional<T> v;
        try {
            v = decode(std::string_view(m_in), used);
        } catch (const std::length_error& e) {
            throw StoreConnectionError(fmt::format("the store at {} sent a bad reply: {}", m_endpoint, e.what()));
        }
        if (v) {
            m_in.erase(0, used);
            return std::move(*v);
        }
        if (!forever) {
            // A reply is due: the store answers at once. One that stays silent (a machine 0
            // suspended with Ctrl-Z, a port where something else listens) must not hang us.
            pollfd p{m_fd, POLLIN, 0};
            const int rc = poll(&p, 1, static_cast<int>(k_reply_timeout.count()));
            if (rc < 0 && errno == EINTR) {
                continue;
            }
            if (rc == 0) {
                throw StoreConnectionError(fmt::format("the store at {} did not answer within {} s", m_endpoint,
                                                       k_reply_timeout.count() / 1000));
            }
        }
        ssize_t n = recv(m_fd, buf, sizeof buf, 0);
        if (n > 0) {
            m_in.append(buf, static_cast<size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            throw StoreConnectionError(fmt::format("lost the connection to the store at {}: {}", m_endpoint,
                                                   n == 0 ? "closed by the other end" : std::strerror(errno)));
        }
    }
}

void StoreClient::set(const std::string& key, const std::string& value) { send_all(store::encode_set(key, value)); }

std::string StoreClient::get(const std::string& key) {
    send_all(store::encode_get(key));
    return read_reply<std::string>([](std::string_view b, size_t& n) { return store::decode_bytes(b, n); });
}

std::int64_t StoreClient::add(const std::string& key, std::int64_t delta) {
    send_all(store::encode_add(key, delta));
    return read_reply<std::int64_t>([](std::string_view b, size_t& n) { return store::decode_i64(b, n); });
}

bool StoreClient::check(const std::vector<std::string>& keys) {
    send_all(store::encode_check(keys));
    return read_reply<std::uint8_t>([](std::string_view b, size_t& n) { return store::decode_u8(b, n); }) ==
           store::k_reply_ready;
}

std::vector<std::string> StoreClient::multi_get(const std::vector<std::string>& keys) {
    send_all(store::encode_multi_get(keys));
    std::vector<std::string> out;
    for (size_t i = 0; i < keys.size(); ++i) {
        out.push_back(
            read_reply<std::string>([](std::string_view b, size_t& n) { return store::decode_bytes(b, n); }));
    }
    return out;
}

void StoreClient::multi_set(const std::vector<std::string>& keys, const std::vector<std::string>& values) {
    send_all(store::encode_multi_set(keys, values));
}

void StoreClient::start_wait(const std::vector<std::string>& keys) { send_all(store::encode_wait(keys)); }

bool StoreClient::finish_wait(bool cancel, bool forever) {
    auto u8 = [](std::string_view b, size_t& n) { return store::decode_u8(b, n); };
    if (!cancel) {
        read_reply<std::uint8_t>(u8, forever);
        return true;
    }
    send_all(store::encode_cancel_wait());
    // A late STOP_WAITING (00) may come before WAIT_CANCELED (01).
    if (read_reply<std::uint8_t>(u8) == store::k_reply_ready) {
        read_reply<std::uint8_t>(u8);
        return true;
    }
    return false;
}

bool StoreClient::wait(const std::vector<std::string>& keys, Deadline deadline) {
    start_wait(keys);
    if (!m_in.empty()) {
        return finish_wait(false);
    }
    while (true) {
        pollfd p{m_fd, POLLIN, 0};
        int rc = poll(&p, 1, millis_until(deadline));
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        return finish_wait(rc == 0);
    }
}

}  // namespace acc::proc
