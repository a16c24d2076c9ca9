#include "acc/proc/machine_link.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "acc/proc/quiet_thread.hpp"

namespace acc::proc {

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds d) {
    double s = static_cast<double>(d.count()) / 1000.0;
    return s == static_cast<double>(static_cast<long long>(s)) ? fmt::format("{}", static_cast<long long>(s))
                                                                : fmt::format("{:g}", s);
}

}  // namespace

void check_resolves(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
        throw Error(fmt::format(
            "main_process_ip '{}' does not resolve ({}); pass machine 0's IP address, or a host name every machine "
            "can resolve",
            host, gai_strerror(rc)));
    }
    freeaddrinfo(found);
}

MachineLink::MachineLink(MachineLinkOptions options) : m_opt(std::move(options)) {
    m_keys.run_id = m_opt.run_id;
    m_deadline = Clock::now() + m_opt.timeout;
    m_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m_event_fd < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    try {
        m_client.emplace(StoreClient::connect(m_opt.host, m_opt.port, m_deadline));
        m_watch_client.emplace(StoreClient::connect(m_opt.host, m_opt.port, m_deadline));
    } catch (const StoreConnectionError& e) {
        close(m_event_fd);
        m_event_fd = -1;
        throw Error(fmt::format(
            "machine {} could not reach machine 0's launcher within {} s ({}); missing: machine 0. Start "
            "`accelerate launch --machine_rank 0` on {} with the same --main_process_ip and --main_process_port, "
            "or raise --rdzv_timeout",
            m_opt.machine_rank, seconds_text(m_opt.timeout), e.what(), m_opt.host));
    }
    try {
        // As torch's TCPStore constructor does; the key counts clients, harmlessly.
        m_client->add("init/", 1);
        // One launcher per machine rank: a second one with the same --machine_rank would
        // overwrite the first's role_info and start the same ranks again. It is turned away;
        // the job of the first goes on.
        if (m_client->add(m_keys.claim(m_opt.machine_rank), 1) > 1) {
            close(m_event_fd);
            m_event_fd = -1;
            throw Error(fmt::format(
                "machine_rank {} is already taken by another launcher of the job at {}:{}; give each machine its own "
                "--machine_rank 0..{} (a launcher that ended cannot rejoin: start the job again)",
                m_opt.machine_rank, m_opt.host, m_opt.port, m_opt.num_machines - 1));
        }
        if (m_opt.machine_rank != 0) {
            // Machine 0's store watches this connection: should it close before this machine
            // reaches the exit barrier or records a failure, the job is stopped (see
            // launch::lost_machine_failure).
            m_client->add(m_keys.alive(m_opt.machine_rank), 1);
        }
        launch::RoleInfo info{"default", m_opt.machine_rank, m_opt.local_world_size};
        m_client->set(m_keys.settings(m_opt.machine_rank), launch::encode_machine_settings(m_opt.settings));
        m_client->set(m_keys.role_info(m_opt.machine_rank), launch::encode_role_info(info));
        m_watch_client->start_wait({m_keys.failed()});
    } catch (const StoreConnectionError& e) {
        close(m_event_fd);
        m_event_fd = -1;
        throw Error(fmt::format("machine {} lost machine 0's launcher while joining: {}", m_opt.machine_rank,
                                e.what()));
    }
    m_watcher = start_quiet_thread("the thread that watches the other machines", [this] { watch(); });
}

MachineLink::~MachineLink() {
    m_closing = true;
    if (m_watch_client) {
        m_watch_client->shutdown();
    }
    if (m_watcher.joinable()) {
        m_watcher.join();
    }
    if (m_event_fd >= 0) {
        close(m_event_fd);
    }
}

void MachineLink::watch() {
    std::optional<launch::FailureRecord> failure;
    bool lost = false;
    try {
        m_watch_client->finish_wait(false, true);  // for as long as the job runs
        failure = launch::parse_failure(m_watch_client->get(m_keys.failed()));
        if (!failure->benign) {
            m_watch_client->add(m_keys.failure_seen(), 1);
        }
    } catch (const StoreConnectionError&) {
        lost = true;
    }
    if (m_closing || (failure && failure->benign)) {
        return;  // no stop: the link is being closed, or machine 0 left after its own success
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_failure = failure;
        m_lost = lost;
    }
    std::uint64_t one = 1;
    ssize_t ignored = write(m_event_fd, &one, sizeof one);
    (void)ignored;
}

bool MachineLink::stop_fired() {
    pollfd p{m_event_fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

std::string MachineLink::stop_reason() {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_failure) {
        return "stopped because " + launch::describe_failure(*m_failure);
    }
    if (m_lost) {
        return m_opt.machine_rank == 0 ? std::string("stopped because the job's store closed")
                                       : std::string("stopped because the connection to machine 0's launcher was "
                                                     "lost (it ended, or the network failed)");
    }
    return "stopped by another machine";
}

bool MachineLink::stopped_by_self() {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_failure && m_failure->machine_rank == m_opt.machine_rank;
}

void MachineLink::report_failure(const launch::FailureRecord& failure) {
    if (m_reported || !m_client) {
        return;
    }
    m_reported = true;
    try {
        m_client->set(m_keys.failed(), launch::encode_failure(failure));
    } catch (const StoreConnectionError&) {
        // machine 0 is gone; the others notice that themselves
    }
}

void MachineLink::linger(std::chrono::milliseconds wait) {
    if (m_opt.machine_rank != 0 || !m_client) {
        return;
    }
    const Deadline until = Clock::now() + wait;
    try {
        std::vector<std::string> keys;
        for (int r = 0; r < m_opt.num_machines; ++r) {
            keys.push_back(m_keys.role_info(r));
        }
        while (Clock::now() < until) {
            std::int64_t joined = 0;
            for (const auto& k : keys) {
                joined += m_client->check({k}) ? 1 : 0;
            }
            if (m_client->add(m_keys.failure_seen(), 0) >= joined) {
                return;
            }
            usleep(20000);
        }
    } catch (const StoreConnectionError&) {
    }
}

bool MachineLink::wait_keys(const std::vector<std::string>& keys, Deadline deadline,
                            const std::function<bool()>& interrupted) {
    m_client->start_wait(keys);
    while (true) {
        pollfd p[2] = {{m_client->fd(), POLLIN, 0}, {m_event_fd, POLLIN, 0}};
        int slice = interrupted ? std::min(millis_until(deadline), 200) : millis_until(deadline);
        int rc = poll(p, 2, slice);
        if (rc < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (rc > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            return m_client->finish_wait(false);
        }
        if (rc > 0 && (p[1].revents & POLLIN)) {
            throw Error(stop_reason());
        }
        if (Clock::now() >= deadline || (interrupted && interrupted())) {
            return m_client->finish_wait(true);
        }
    }
}

std::vector<int> MachineLink::missing_machines() {
    std::vector<int> missing;
    for (int r = 0; r < m_opt.num_machines; ++r) {
        if (!m_client->check({m_keys.role_info(r)})) {
            missing.push_back(r);
        }
    }
    return missing;
}

void MachineLink::fail_rendezvous(const std::string& message) {
    report_failure(launch::FailureRecord{m_opt.machine_rank, std::nullopt, message});
    linger(std::chrono::milliseconds(2000));
    throw Error(message);
}

launch::AssignedRanks MachineLink::rendezvous() {
    const int g = m_opt.num_machines;
    auto timed_out = [&]() -> std::string {
        // Machines that disagree (one expects more machines than the others) are named
        // first: that is why the others never came.
        std::vector<launch::MachineSettings> joined;
        for (int r = 0; r < g; ++r) {
            if (m_client->check({m_keys.settings(r)})) {
                if (auto m = launch::parse_machine_settings(m_client->get(m_keys.settings(r)), r)) {
                    joined.push_back(*m);
                }
            }
        }
        if (auto diff = launch::compare_machine_settings(joined)) {
            return *diff;
        }
        auto missing = missing_machines();
        if (missing.empty()) {
            return fmt::format("the rendezvous of {} machines did not complete within {} s; raise --rdzv_timeout", g,
                               seconds_text(m_opt.timeout));
        }
        return fmt::format(
            "{} of {} did not join within {} s; start `accelerate launch --machine_rank N` there with the same "
            "--main_process_ip and --main_process_port (under SLURM: one launcher per node, srun "
            "--ntasks-per-node=1), or raise --rdzv_timeout",
            launch::machine_list(missing), g, seconds_text(m_opt.timeout));
    };
    try {
        if (m_opt.machine_rank == 0) {
            std::vector<std::string> role_keys;
            std::vector<std::string> settings_keys;
            for (int r = 0; r < g; ++r) {
                role_keys.push_back(m_keys.role_info(r));
                settings_keys.push_back(m_keys.settings(r));
            }
            if (!wait_keys(role_keys, m_deadline)) {
                fail_rendezvous(timed_out());
            }
            auto infos_text = m_client->multi_get(role_keys);
            auto settings_text = m_client->multi_get(settings_keys);
            std::vector<launch::RoleInfo> infos;
            std::vector<launch::MachineSettings> settings;
            for (int r = 0; r < g; ++r) {
                auto info = launch::parse_role_info(infos_text[static_cast<size_t>(r)]);
                if (!info || info->rank != r) {
                    fail_rendezvous(fmt::format("machine {} published an unreadable role_info: {}", r,
                                                infos_text[static_cast<size_t>(r)]));
                }
                infos.push_back(*info);
                if (auto m = launch::parse_machine_settings(settings_text[static_cast<size_t>(r)], r)) {
                    settings.push_back(*m);
                }
            }
            if (auto diff = launch::compare_machine_settings(settings)) {
                fail_rendezvous(*diff);
            }
            auto ranks = launch::assign_ranks(infos);
            std::vector<std::string> keys;
            std::vector<std::string> values;
            for (int r = 0; r < g; ++r) {
                keys.push_back(m_keys.assigned_ranks(r));
                values.push_back(launch::encode_assigned_ranks(ranks[static_cast<size_t>(r)]));
            }
            m_client->multi_set(keys, values);
        }
        const std::string mine = m_keys.assigned_ranks(m_opt.machine_rank);
        if (!wait_keys({mine}, m_deadline)) {
            fail_rendezvous(timed_out());  // told to the machines that did join, which stop too
        }
        auto text = m_client->get(mine);
        auto ranks = launch::parse_assigned_ranks(text);
        if (!ranks) {
            throw Error(fmt::format("machine 0 assigned unreadable ranks to machine {}: {}", m_opt.machine_rank, text));
        }
        return *ranks;
    } catch (const StoreConnectionError& e) {
        throw Error(fmt::format("machine {} lost machine 0's launcher during the rendezvous: {}", m_opt.machine_rank,
                                e.what()));
    }
}

std::optional<std::string> MachineLink::exit_barrier(std::chrono::milliseconds timeout,
                                                     const std::function<bool()>& interrupted) {
    try {
        m_client->set(m_keys.exited(m_opt.machine_rank), "1");  // from here on, leaving is no failure
        if (m_client->add(m_keys.exit_count(), 1) >= m_opt.num_machines) {
            m_client->set(m_keys.exit_last(), std::to_string(m_opt.machine_rank));
        }
        // Asked at most until it says yes: what interrupted the wait is asked for only once.
        bool was_interrupted = false;
        const auto interrupted_once = [&] {
            was_interrupted = was_interrupted || (interrupted && interrupted());
            return was_interrupted;
        };
        if (wait_keys({m_keys.exit_last()}, Clock::now() + timeout, interrupted_once)) {
            return std::nullopt;
        }
        if (was_interrupted) {
            return std::string("interrupted while waiting for the other machines to finish");
        }
        if (m_opt.machine_rank == 0) {
            // The others keep running; tell them the store goes away for a benign reason.
            m_closing = true;
            m_client->set(m_keys.failed(),
                          launch::encode_failure({0, std::nullopt, "finished; its store is closing", true}));
        }
        return fmt::format("not every machine finished within {} s of this one; leaving the exit barrier",
                           seconds_text(timeout));
    } catch (const StoreConnectionError& e) {
        return fmt::format("lost machine 0's launcher in the exit barrier: {}", e.what());
    } catch (const Error& e) {
        return std::string(e.what());
    }
}

}  // namespace acc::proc
