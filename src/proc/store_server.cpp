#include "acc/proc/store_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>

#include "acc/proc/quiet_thread.hpp"
#include "acc/util/error.hpp"

namespace acc::proc {

namespace {

constexpr size_t k_max_connections = 8192;
constexpr size_t k_max_buffered_input = 256ull * 1024 * 1024;
constexpr std::uint64_t k_wake_token = 0;  // epoll data of the wake-up eventfd
constexpr std::uint64_t k_listen_token = 1;

struct Connection {
    int fd = -1;
    store::ConnId id = 0;
    store::Dialect dialect = store::Dialect::unknown;
    std::string in;
    std::string out;
    bool want_write = false;
};

int bind_listener(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
    if (rc != 0) {
        throw std::system_error(EINVAL, std::generic_category(),
                                "cannot resolve '" + host + "': " + gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
    int last_errno = EADDRNOTAVAIL;
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
            return fd;
        }
        last_errno = errno;
        close(fd);
    }
    throw std::system_error(last_errno, std::generic_category(),
                            "cannot listen on " + host + ":" + std::to_string(port));
}

int bound_port(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    if (addr.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

StoreServer::StoreServer(const std::string& host, int port, store::Limits limits) : m_limits(limits) {
    m_listen_fd = bind_listener(host, port);
    m_port = bound_port(m_listen_fd);
    m_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m_wake_fd < 0) {
        int err = errno;
        close(m_listen_fd);
        throw std::system_error(err, std::generic_category(), "eventfd");
    }
}

StoreServer::~StoreServer() {
    if (m_thread.joinable()) {
        m_stop = true;
        std::uint64_t one = 1;
        ssize_t ignored = write(m_wake_fd, &one, sizeof one);
        (void)ignored;
        m_thread.join();
    }
    close(m_wake_fd);
    close(m_listen_fd);
}

void StoreServer::start() {
    m_thread = start_quiet_thread("the agent store's thread", [this] { serve(); });
}

void StoreServer::on_disconnect(DisconnectHook hook) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_on_disconnect = std::move(hook);
}

void StoreServer::with_state(const std::function<void(store::StoreState&)>& fn) {
    std::lock_guard<std::mutex> lock(m_mutex);
    fn(m_state);
}

void StoreServer::serve() {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = k_wake_token;
    epoll_ctl(ep, EPOLL_CTL_ADD, m_wake_fd, &ev);
    ev.data.u64 = k_listen_token;
    epoll_ctl(ep, EPOLL_CTL_ADD, m_listen_fd, &ev);

    std::unordered_map<store::ConnId, Connection> conns;
    store::ConnId next_id = 2;  // 0 and 1 are the tokens above

    auto update_interest = [&](Connection& c) {
        epoll_event e{};
        e.events = EPOLLIN | (c.want_write ? EPOLLOUT : 0u);
        e.data.u64 = c.id;
        epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
    };
    auto drop = [&](store::ConnId id) {
        auto it = conns.find(id);
        if (it == conns.end()) {
            return;
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, it->second.fd, nullptr);
        close(it->second.fd);
        conns.erase(it);
        std::vector<store::Reply> woken;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            const auto added = m_state.keys_added_by(id);
            m_state.disconnect(id);
            if (m_on_disconnect && !added.empty()) {
                for (auto& [key, value] : m_on_disconnect(added, m_state)) {
                    store::Request set;
                    set.op = store::Op::set;
                    set.keys = {key};
                    set.values = {value};
                    auto out = m_state.apply(0, set);  // 0: no connection (a SET has no reply)
                    woken.insert(woken.end(), std::make_move_iterator(out.begin()),
                                 std::make_move_iterator(out.end()));
                }
            }
        }
        // The waiters it woke are written to when their connection is next writable, or now.
        for (auto& reply : woken) {
            if (auto target = conns.find(reply.conn); target != conns.end()) {
                target->second.out += reply.bytes;
                target->second.want_write = true;
                update_interest(target->second);
            }
        }
    };
    // Write what is queued; false when the peer is gone.
    auto flush = [&](Connection& c) {
        while (!c.out.empty()) {
            ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, static_cast<size_t>(n));
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            } else {
                return false;
            }
        }
        bool want = !c.out.empty();
        if (want != c.want_write) {
            c.want_write = want;
            update_interest(c);
        }
        return true;
    };
    // Parse and apply every complete request in the buffer; false to close.
    auto process = [&](Connection& c, std::vector<store::Reply>& replies) {
        size_t offset = 0;
        bool ok = true;
        while (offset < c.in.size()) {
            std::string_view rest(c.in.data() + offset, c.in.size() - offset);
            if (c.dialect == store::Dialect::unknown) {
                c.dialect = store::detect_dialect(rest);
                if (c.dialect == store::Dialect::unknown) {
                    break;  // the first bytes may still be a VALIDATE
                }
            }
            store::Parsed p = store::parse_request(rest, c.dialect, m_limits);
            if (p.status == store::ParseStatus::incomplete) {
                break;
            }
            if (p.status == store::ParseStatus::error) {
                ok = false;
                break;
            }
            offset += p.consumed;
            try {
                std::lock_guard<std::mutex> lock(m_mutex);
                auto out = m_state.apply(c.id, p.request);
                replies.insert(replies.end(), std::make_move_iterator(out.begin()),
                               std::make_move_iterator(out.end()));
            } catch (const store::StoreError&) {
                ok = false;
                break;
            }
        }
        c.in.erase(0, offset);
        return ok && c.in.size() <= k_max_buffered_input;
    };

    std::vector<epoll_event> events(256);
    char buf[65536];
    while (!m_stop) {
        int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (int i = 0; i < n; ++i) {
            std::uint64_t token = events[i].data.u64;
            if (token == k_wake_token) {
                continue;
            }
            if (token == k_listen_token) {
                while (true) {
                    int fd = accept4(m_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        break;
                    }
                    if (conns.size() >= k_max_connections) {
                        close(fd);
                        continue;
                    }
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    Connection c;
                    c.fd = fd;
                    c.id = next_id++;
                    epoll_event e{};
                    e.events = EPOLLIN;
                    e.data.u64 = c.id;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                    conns.emplace(c.id, std::move(c));
                }
                continue;
            }
            auto it = conns.find(token);
            if (it == conns.end()) {
                continue;
            }
            Connection& c = it->second;
            bool alive = true;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                std::vector<store::Reply> replies;
                while (alive) {
                    ssize_t r = recv(c.fd, buf, sizeof buf, 0);
                    if (r > 0) {
                        c.in.append(buf, static_cast<size_t>(r));
                        alive = process(c, replies);
                        if (static_cast<size_t>(r) < sizeof buf) {
                            break;
                        }
                    } else if (r < 0 && errno == EINTR) {
                        continue;
                    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                        break;
                    } else {
                        alive = false;  // EOF or error
                    }
                }
                // Replies may go to other connections (a SET finishing their WAIT).
                for (auto& reply : replies) {
                    auto target = conns.find(reply.conn);
                    if (target != conns.end()) {
                        target->second.out += reply.bytes;
                    }
                }
                for (auto& reply : replies) {
                    auto target = conns.find(reply.conn);
                    if (target != conns.end() && target->first != c.id && !flush(target->second)) {
                        drop(reply.conn);
                    }
                }
            }
            if (alive && (!c.out.empty())) {
                alive = flush(c);
            }
            if (!alive) {
                drop(token);
            }
        }
    }
    for (auto& [id, c] : conns) {
        close(c.fd);
    }
    close(ep);
}

}  // namespace acc::proc
