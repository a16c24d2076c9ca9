#include "acc/store/store_state.hpp"

#include <algorithm>
#include <charconv>

namespace acc::store {

namespace {

constexpr std::uint8_t k_ready = 0;        // CHECK READY, WAIT STOP_WAITING
constexpr std::uint8_t k_not_ready = 1;    // CHECK NOT_READY
constexpr std::uint8_t k_wait_canceled = 1;
constexpr std::uint8_t k_watch_registered = 3;

std::string reply_u8(std::uint8_t v) { return std::string(1, static_cast<char>(v)); }

std::string reply_i64(std::int64_t v) {
    std::string s;
    put_i64(s, v);
    return s;
}

std::string reply_bytes(std::string_view v) {
    std::string s;
    put_bytes(s, v);
    return s;
}

}  // namespace

const std::string* StoreState::value(const std::string& key) const {
    auto it = m_kv.find(key);
    return it == m_kv.end() ? nullptr : &it->second;
}

bool StoreState::ready(const std::string& key) const {
    if (m_kv.count(key)) {
        return true;
    }
    auto q = m_queues.find(key);
    return q != m_queues.end() && !q->second.empty();
}

void StoreState::wake(const std::string& key, std::vector<Reply>& out, bool only_one) {
    auto it = m_waiting_on.find(key);
    if (it == m_waiting_on.end()) {
        return;
    }
    std::vector<ConnId> still;
    bool woke = false;
    for (ConnId c : it->second) {
        auto w = m_waits.find(c);
        if (w == m_waits.end() || (only_one && woke)) {
            if (w != m_waits.end()) {
                still.push_back(c);
            }
            continue;
        }
        w->second.erase(key);
        if (w->second.empty()) {
            out.push_back({c, reply_u8(k_ready)});
            m_waits.erase(w);
            woke = true;
        }
    }
    if (still.empty()) {
        m_waiting_on.erase(it);
    } else {
        it->second = std::move(still);
    }
}

std::int64_t StoreState::add(const std::string& key, std::int64_t delta) {
    std::int64_t current = 0;
    if (auto it = m_kv.find(key); it != m_kv.end()) {
        const std::string& text = it->second;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), current);
        if (ec != std::errc() || ptr != text.data() + text.size()) {
            throw StoreError("ADD on key '" + key + "' whose value is not an integer");
        }
    }
    // Wrap around instead of overflowing (a hostile ADD must not be undefined behaviour).
    current = static_cast<std::int64_t>(static_cast<std::uint64_t>(current) + static_cast<std::uint64_t>(delta));
    m_kv[key] = std::to_string(current);
    return current;
}

void StoreState::wake_barriers(const std::string& key, std::vector<Reply>& out) {
    auto it = m_barriers.find(key);
    if (it == m_barriers.end()) {
        return;
    }
    std::int64_t count = 0;
    if (auto v = m_kv.find(key); v != m_kv.end()) {
        std::from_chars(v->second.data(), v->second.data() + v->second.size(), count);
    }
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
        if (count >= w->second) {
            out.push_back({w->first, reply_u8(k_ready)});
            w = list.erase(w);
        } else {
            ++w;
        }
    }
    if (list.empty()) {
        m_barriers.erase(it);
    }
}

std::vector<Reply> StoreState::apply(ConnId conn, const Request& req) {
    std::vector<Reply> out;
    auto reply = [&](std::string bytes) { out.push_back({conn, std::move(bytes)}); };
    auto changed = [&](const std::string& key) {
        wake(key, out);
        wake_barriers(key, out);
    };
    switch (req.op) {
    case Op::validate:
        if (req.word != k_validate_magic) {
            throw StoreError("bad VALIDATE magic");
        }
        break;
    case Op::ping: {
        std::string s;
        put_u32(s, req.word);
        reply(std::move(s));
        break;
    }
    case Op::set:
        m_kv[req.keys[0]] = req.values[0];
        changed(req.keys[0]);
        break;
    case Op::compare_set: {
        const std::string& key = req.keys[0];
        const std::string& expected = req.values[0];
        const std::string& desired = req.values[1];
        auto it = m_kv.find(key);
        if (it == m_kv.end()) {
            if (expected.empty()) {
                m_kv[key] = desired;
                reply(reply_bytes(desired));
                changed(key);
            } else {
                reply(reply_bytes(expected));
            }
        } else {
            if (it->second == expected) {
                it->second = desired;
                reply(reply_bytes(desired));
                changed(key);
            } else {
                reply(reply_bytes(it->second));
            }
        }
        break;
    }
    case Op::get: {
        auto it = m_kv.find(req.keys[0]);
        reply(reply_bytes(it == m_kv.end() ? std::string_view() : std::string_view(it->second)));
        break;
    }
    case Op::add: {
        reply(reply_i64(add(req.keys[0], req.number)));
        changed(req.keys[0]);
        auto& added = m_added[conn];
        if (std::find(added.begin(), added.end(), req.keys[0]) == added.end() && added.size() < 64) {
            added.push_back(req.keys[0]);  // bounded: torch's own clients ADD few keys, hostile ones many
        }
        break;
    }
    case Op::check: {
        bool all = std::all_of(req.keys.begin(), req.keys.end(), [&](const std::string& k) { return ready(k); });
        reply(reply_u8(all ? k_ready : k_not_ready));
        break;
    }
    case Op::wait: {
        std::set<std::string> missing;
        for (const auto& k : req.keys) {
            if (!ready(k)) {
                missing.insert(k);
            }
        }
        if (missing.empty()) {
            reply(reply_u8(k_ready));
            break;
        }
        for (const auto& k : missing) {
            m_waiting_on[k].push_back(conn);
        }
        m_waits[conn] = std::move(missing);
        break;
    }
    case Op::num_keys: reply(reply_i64(static_cast<std::int64_t>(m_kv.size()))); break;
    case Op::delete_key: reply(reply_i64(static_cast<std::int64_t>(m_kv.erase(req.keys[0])))); break;
    case Op::append:
        m_kv[req.keys[0]] += req.values[0];
        changed(req.keys[0]);
        break;
    case Op::multi_get: {
        std::string s;
        for (const auto& k : req.keys) {
            auto it = m_kv.find(k);
            put_bytes(s, it == m_kv.end() ? std::string_view() : std::string_view(it->second));
        }
        reply(std::move(s));
        break;
    }
    case Op::multi_set:
        for (size_t i = 0; i < req.keys.size(); ++i) {
            m_kv[req.keys[i]] = req.values[i];
            changed(req.keys[i]);
        }
        break;
    case Op::cancel_wait:
        disconnect(conn);
        reply(reply_u8(k_wait_canceled));
        break;
    case Op::queue_push:
        m_queues[req.keys[0]].push_back(req.values[0]);
        wake(req.keys[0], out, /*only_one=*/true);
        break;
    case Op::queue_pop: {
        auto& q = m_queues[req.keys[0]];
        std::string s;
        put_i64(s, static_cast<std::int64_t>(q.size()));
        if (!q.empty()) {
            put_bytes(s, q.front());
            q.pop_front();
        }
        if (q.empty()) {
            m_queues.erase(req.keys[0]);
        }
        reply(std::move(s));
        break;
    }
    case Op::queue_len: {
        auto it = m_queues.find(req.keys[0]);
        reply(reply_i64(it == m_queues.end() ? 0 : static_cast<std::int64_t>(it->second.size())));
        break;
    }
    case Op::list_keys: {
        std::string s;
        put_i64(s, static_cast<std::int64_t>(m_kv.size()));
        for (const auto& [k, v] : m_kv) {
            put_bytes(s, k);
        }
        reply(std::move(s));
        break;
    }
    case Op::barrier: {
        std::int64_t count = add(req.keys[0], 1);
        m_barriers[req.keys[0]].emplace_back(conn, req.number);
        wake(req.keys[0], out);
        wake_barriers(req.keys[0], out);
        (void)count;
        break;
    }
    case Op::watch_key: reply(reply_u8(k_watch_registered)); break;
    }
    return out;
}

std::vector<std::string> StoreState::keys_added_by(ConnId conn) const {
    auto it = m_added.find(conn);
    return it == m_added.end() ? std::vector<std::string>{} : it->second;
}

void StoreState::disconnect(ConnId conn) {
    m_added.erase(conn);
    auto it = m_waits.find(conn);
    if (it != m_waits.end()) {
        for (const auto& k : it->second) {
            auto& list = m_waiting_on[k];
            list.erase(std::remove(list.begin(), list.end(), conn), list.end());
            if (list.empty()) {
                m_waiting_on.erase(k);
            }
        }
        m_waits.erase(it);
    }
    for (auto b = m_barriers.begin(); b != m_barriers.end();) {
        auto& list = b->second;
        list.erase(std::remove_if(list.begin(), list.end(), [&](const auto& w) { return w.first == conn; }),
                   list.end());
        b = list.empty() ? m_barriers.erase(b) : std::next(b);
    }
}

void StoreState::clear() {
    m_kv.clear();
    m_queues.clear();
    m_waits.clear();
    m_waiting_on.clear();
    m_barriers.clear();
}

}  // namespace acc::store
