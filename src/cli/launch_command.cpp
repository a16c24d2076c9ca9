#include "acc/cli/launch_command.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "acc/cli/launch_help.hpp"
#include "acc/cli/launch_parser.hpp"
#include "acc/config/config_file.hpp"
#include "acc/launch/dry_run.hpp"
#include "acc/launch/exit_policy.hpp"
#include "acc/launch/launch_plan.hpp"
#include "acc/launch/output_spec.hpp"
#include "acc/launch/resolve.hpp"
#include "acc/launch/rendezvous.hpp"
#include "acc/proc/atomic_file.hpp"
#include "acc/proc/host_probe.hpp"
#include "acc/proc/machine_link.hpp"
#include "acc/proc/run_dir.hpp"
#include "acc/proc/store_server.hpp"
#include "acc/proc/subprocess.hpp"
#include "acc/proc/supervisor.hpp"
#include "acc/util/console.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::cli {

namespace {

bool is_file(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Probes run at most once, and only if the decision needs them.
template <typename T>
std::function<T()> memoized(std::function<T()> probe) {
    auto cache = std::make_shared<std::optional<T>>();
    return [probe = std::move(probe), cache]() {
        if (!*cache) {
            *cache = probe();
        }
        return **cache;
    };
}

// The probes read `env` by reference: it lives in run_launch, as long as the facts do.
launch::HostFacts probe_host(const Environment& env, bool need_python) {
    launch::HostFacts facts;
    facts.env = env;
    // One NVML probe (a thread, the driver's own start-up) answers both questions.
    auto inventory = memoized<proc::NvidiaInventory>([] { return proc::nvidia_inventory(); });
    facts.gpu_count = memoized<int>([&env, inventory] { return proc::visible_device_count(inventory(), env); });
    facts.p2p_ib_supported = memoized<bool>([inventory] {
        const proc::NvidiaInventory inv = inventory();
        return launch::cuda_p2p_ib_supported(inv.names, inv.driver_version);
    });
    facts.physical_cores = memoized<int>([] { return proc::physical_core_count(); });
    facts.port_in_use = [](int port) { return proc::port_in_use(port); };
    facts.free_port = [] { return proc::free_port(); };
    facts.cwd = proc::current_directory();
    facts.mpi_launcher = [&env]() -> std::optional<std::pair<std::string, std::string>> {
        for (const char* name : {"mpirun", "mpiexec"}) {
            if (auto path = proc::find_executable(name, env)) {
                proc::Captured version = proc::run_capture({*path, "--version"}, env, 30);
                if (version.status != 0) {
                    throw Error(fmt::format("`{} --version` failed; check the MPI installation", *path));
                }
                // The command names the program as upstream does; it is found on PATH again at spawn.
                return std::make_pair(std::string(name), version.out);
            }
        }
        return std::nullopt;
    };
    if (need_python) {
        auto python = proc::find_python(env);
        if (!python) {
            throw Error("no Python interpreter found: put python3 on PATH or set PYTHON_EXEC=/path/to/python");
        }
        facts.python = *python;
    }
    return facts;
}

void check_script(const launch::LaunchSettings& s, const Environment& env) {
    if (s.truthy("module")) {
        return;  // a module name; Python resolves it
    }
    const std::string& script = s.training_script;
    if (s.truthy("no_python")) {
        if (!proc::find_executable(script, env)) {
            throw Error(fmt::format("--no_python: '{}' is not an executable file{}", script,
                                    script.find('/') == std::string::npos ? " on PATH" : ""));
        }
        return;
    }
    if (script.starts_with('-')) {
        // After `--`, a Python option such as `-m mod` or `-c code` (or `-`, stdin): upstream
        // hands it to Python, which reads it as its own option, and so do we.
        return;
    }
    if (!is_file(script)) {
        throw Error(fmt::format("training script {} not found (relative to {}); check the path, or pass -m for a "
                                "module",
                                Value::string(script).repr(), proc::current_directory()));
    }
}

// The root cause a worker recorded with torch's @record, if it did.
std::optional<std::string> read_error_file(const std::string& path) {
    if (!is_file(path)) {
        return std::nullopt;
    }
    try {
        std::ifstream in(path, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        YAML::Node root = YAML::Load(json_surrogates_for_yaml(text));
        YAML::Node msg = root["message"];
        if (msg && msg.IsMap()) {
            // Valid JSON of another shape (no "extraInfo" object) is no root cause, not an error.
            if (const YAML::Node extra = msg["extraInfo"]; extra && extra.IsMap()) {
                if (auto stack = extra["py_callstack"]; stack && stack.IsScalar()) {
                    return stack.Scalar();
                }
            }
            if (msg["message"] && msg["message"].IsScalar()) {
                return msg["message"].Scalar();
            }
        } else if (msg && msg.IsScalar()) {
            return msg.Scalar();
        }
    } catch (const YAML::Exception&) {
        return fmt::format("(error file {} is not valid JSON)", path);
    }
    return std::nullopt;
}

std::vector<std::string> full_env(const Environment& base, const std::map<std::string, std::string>& additions) {
    Environment env = base;
    for (const auto& [k, v] : additions) {
        env.set(k, v);
    }
    return env.to_envp();
}

// The last `n` lines of a log file (read from its last 64 KiB).
std::string log_tail(const std::string& path, size_t n) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {};
    }
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff start = std::max<std::streamoff>(0, size - 64 * 1024);
    in.seekg(start);
    std::string text(static_cast<size_t>(size - start), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    return launch::last_lines(text, n);
}

// The verdict on a failed run: one line naming the culprit, then its root cause (error
// file) or its last stderr lines.
std::string verdict_text(const launch::LaunchPlan& plan, const proc::GroupOutcome& out,
                         const std::vector<std::string>& error_files, const std::vector<std::string>& stderr_logs,
                         const proc::Supervisor::RecentOutput& recent) {
    size_t idx = *out.first_failure;
    const auto& failed = out.workers[idx];
    const auto& spec = plan.workers[idx];
    // A worker the system would not fork has no pid to name.
    const std::string pid = failed.pid > 0 ? fmt::format(", pid {}", failed.pid) : "";
    std::string who = plan.workers.size() > 1 || plan.torchrun_env
                          ? fmt::format("rank {} (local_rank {}{})", spec.rank, spec.local_rank, pid)
                          : failed.pid > 0 ? fmt::format("the worker (pid {})", failed.pid) : "the worker";
    std::string how =
        failed.fork_errno
            ? fmt::format("could not be started: fork failed: {} ({})", std::strerror(failed.fork_errno),
                          failed.fork_errno == EAGAIN ? "a limit on processes: ulimit -u, or the cgroup's pids.max"
                                                      : "the system is short of memory")
        : failed.exec_errno ? fmt::format("could not start: {}: {}", spec.argv[0], std::strerror(failed.exec_errno))
        : failed.oom_killed ? "was killed by the kernel's OOM killer (signal 9, SIGKILL)"
                            : launch::describe(failed.status);
    std::vector<std::string> stopped;
    for (size_t i = 0; i < out.workers.size(); ++i) {
        if (i != idx && out.workers[i].stopped_by_launcher) {
            stopped.push_back(std::to_string(plan.workers[i].rank));
        }
    }
    std::string line = fmt::format("accelerate launch: {} {}", who, how);
    if (!stopped.empty()) {
        line += fmt::format("; stopped rank{} {}", stopped.size() > 1 ? "s" : "", join(stopped, ", "));
    }
    std::string text = line + "\n";
    if (idx < error_files.size()) {
        if (auto cause = read_error_file(error_files[idx])) {
            return text + fmt::format("root cause (rank {}, from {}):\n{}\n", spec.rank, error_files[idx], *cause);
        }
    }
    // No error file, but its stderr went to a log (--redirects / --tee): its last words.
    if (idx < stderr_logs.size() && !stderr_logs[idx].empty()) {
        if (std::string tail = log_tail(stderr_logs[idx], 20); !tail.empty()) {
            text += fmt::format("last lines of rank {}'s stderr (from {}):\n{}\n", spec.rank, stderr_logs[idx], tail);
        }
        return text;
    }
    // Its stderr went through the launcher (several workers on a log): its last words,
    // gathered from among the other ranks' lines.
    if (std::string tail = launch::last_lines(recent.bytes, 20); !tail.empty()) {
        text += fmt::format("last lines of rank {}'s {}:\n{}\n", spec.rank,
                            recent.with_stdout ? "output (stdout and stderr)" : "stderr", tail);
    }
    return text;
}

launch::JobVerdict job_verdict(const launch::LaunchPlan& plan, const proc::GroupOutcome& out,
                               const std::vector<std::string>& error_files, int attempts, int exit_status) {
    launch::JobVerdict v;
    v.exit_status = exit_status;
    v.attempts = attempts;
    v.launcher_signal = out.launcher_signal;
    v.first_failure = out.launcher_signal ? std::nullopt : out.first_failure;
    for (size_t i = 0; i < out.workers.size(); ++i) {
        const auto& w = out.workers[i];
        launch::WorkerVerdict wv;
        wv.rank = plan.workers[i].rank;
        wv.local_rank = plan.workers[i].local_rank;
        wv.pid = w.pid;
        wv.status = w.status;
        wv.stopped_by_launcher = w.stopped_by_launcher;
        if (w.fork_errno) {
            wv.exec_error = fmt::format("fork: {}", std::strerror(w.fork_errno));
        } else if (w.exec_errno) {
            wv.exec_error = fmt::format("{}: {}", plan.workers[i].argv[0], std::strerror(w.exec_errno));
        }
        if (i < error_files.size() && is_file(error_files[i])) {  // the worker wrote one (@record)
            wv.error_file = error_files[i];
            wv.root_cause = read_error_file(error_files[i]);
        }
        v.workers.push_back(std::move(wv));
    }
    return v;
}

// How long --verdict_json waits for a pipe's reader to take some of it.
const int k_verdict_patience_ms = 5000;

void write_verdict_json(const std::string& path, const launch::JobVerdict& verdict) {
    const std::string text = launch::verdict_json(verdict);
    struct stat st{};
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        // /dev/stdout, a named pipe: written in place (a rename would replace the node), and
        // never waited for for good: the stop signals are blocked here, so a blocking write
        // to a pipe nobody reads would leave a launcher only SIGKILL could end.
        try {
            proc::write_in_place(path, text, k_verdict_patience_ms);
        } catch (const Error& e) {
            print_stderr("accelerate launch: could not write --verdict_json {}\n", e.what());
        }
        return;
    }
    // A file: replaced whole, so whoever watches for it never reads half a verdict.
    try {
        proc::write_file_atomically(path, text);
    } catch (const Error& e) {
        print_stderr("accelerate launch: could not write --verdict_json: {}\n", e.what());
    }
}

// torchrun's agent hosts the c10d store its workers use (TORCHELASTIC_USE_AGENT_STORE=True);
// so do we. Binding here, before any worker starts, holds the port: no race, no collision.
std::unique_ptr<proc::StoreServer> host_agent_store(launch::LaunchPlan& plan, const launch::LaunchSettings& s,
                                                    std::string* bound_host = nullptr) {
    if (!plan.torchrun_env || plan.machine_rank != 0 || plan.workers.empty()) {
        return nullptr;
    }
    const int port = std::stoi(plan.workers[0].env.at("MASTER_PORT"));
    const bool multi = plan.num_machines > 1;
    // One machine: loopback only. Several: the interface of main_process_ip (all interfaces
    // when that address is not one of this machine's, e.g. behind NAT).
    std::string host = multi ? s.str("main_process_ip") : "127.0.0.1";
    std::unique_ptr<proc::StoreServer> server;
    try {
        server = std::make_unique<proc::StoreServer>(host, port);
    } catch (const std::system_error& e) {
        if (multi && e.code().value() == EADDRNOTAVAIL) {
            server = std::make_unique<proc::StoreServer>("", port);
            host = "127.0.0.1";  // all interfaces: this machine's own launcher joins through loopback
        } else if (!multi && e.code().value() == EADDRINUSE) {
            server = std::make_unique<proc::StoreServer>(host, 0);
            print_stderr("accelerate launch: port {} is already in use on this machine; using free port {} instead "
                         "(pass --main_process_port to choose one)\n",
                         port, server->port());
        } else if (e.code().value() == EADDRINUSE) {
            throw Error(fmt::format(
                "Tried to launch distributed communication on port `{}`, but another process is utilizing it. Please "
                "specify a different port (such as using the `--main_process_port` flag or specifying a different "
                "`main_process_port` in your config file) and rerun your script.",
                port));
        } else {
            throw Error(fmt::format("cannot host the job's store: {}", e.what()));
        }
    }
    for (auto& w : plan.workers) {
        w.env["MASTER_PORT"] = std::to_string(server->port());
    }
    server->start();
    if (bound_host) {
        *bound_host = host;
    }
    return server;
}

// Several machines: every launcher joins machine 0's store (machine 0 hosts it) and takes
// part in the static rendezvous as torchrun's agents do; the workers get the assigned ranks.
// A duration flag in seconds (our --grace_period, --rdzv_timeout): a number of seconds, 0
// allowed or not; any size, `inf` included, stands for "at most 31 years" (a clock cannot
// add more), never for no time at all.
std::chrono::milliseconds seconds_flag(const launch::LaunchSettings& s, const char* name, double fallback,
                                       bool zero_allowed) {
    const double seconds = s.get(name).kind() == Value::Kind::real ? s.get(name).as_real() : fallback;
    if (!(zero_allowed ? seconds >= 0 : seconds > 0)) {  // NaN fails both
        throw UsageError(fmt::format("--{} must be a number of seconds {}", name, zero_allowed ? "(0 or more)" : "above 0"));
    }
    const double k_longest = 1e9;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(seconds, k_longest) * 1000));
}

std::unique_ptr<proc::MachineLink> join_machines(launch::LaunchPlan& plan, const launch::LaunchSettings& s,
                                                 const std::string& store_host) {
    if (!plan.torchrun_env || plan.num_machines < 2 || plan.workers.empty()) {
        return nullptr;
    }
    proc::MachineLinkOptions o;
    o.host = plan.machine_rank == 0 && !store_host.empty() ? store_host : s.str("main_process_ip");
    o.port = std::stoi(plan.workers[0].env.at("MASTER_PORT"));
    o.machine_rank = plan.machine_rank;
    o.num_machines = plan.num_machines;
    o.local_world_size = static_cast<int>(plan.workers.size());
    o.run_id = plan.run_id;
    o.settings = launch::machine_settings(s, plan.machine_rank);
    o.timeout = seconds_flag(s, "rdzv_timeout", 300.0, false);
    auto link = std::make_unique<proc::MachineLink>(std::move(o));
    launch::apply_assigned_ranks(plan, link->rendezvous());
    return link;
}

// torch's exit barrier timeout (exit_barrier_timeout, 300 s).
constexpr std::chrono::seconds k_exit_barrier_timeout{300};

int run_plan(const launch::LaunchSettings& s, launch::LaunchPlan plan, const Environment& env) {
    std::vector<std::string> paths;
    for (const auto& w : plan.workers) {
        auto path = proc::find_executable(w.argv[0], env);
        if (!path) {
            throw Error(fmt::format("cannot start workers: '{}' not found{}", w.argv[0],
                                    w.argv[0].find('/') == std::string::npos ? " on PATH" : ""));
        }
        paths.push_back(*path);
    }
    Environment base = env;
    for (const auto& k : plan.unset_env) {
        base.erase(k);
    }
    std::optional<std::string> verdict_path;
    if (!s.is_none("verdict_json") && !s.str("verdict_json").empty()) {
        verdict_path = s.str("verdict_json");
    }
    // --redirects / --tee, per local rank as torchrun reads them (torchrun-style launches;
    // upstream's single-process launcher ignores them too).
    std::vector<launch::WorkerStreams> streams(plan.workers.size());
    bool captured = false;
    if (plan.torchrun_env) {
        auto spec_of = [&](const char* name) { return s.is_none(name) ? std::string("0") : s.str(name); };
        auto redirects = launch::parse_std_spec(spec_of("redirects"), plan.nproc_per_node, "--redirects");
        auto tee = launch::parse_std_spec(spec_of("tee"), plan.nproc_per_node, "--tee");
        for (size_t i = 0; i < plan.workers.size(); ++i) {
            auto lr = static_cast<size_t>(plan.workers[i].local_rank);
            if (lr < redirects.size()) {
                streams[i] = launch::worker_streams(redirects[lr], tee[lr]);
                captured = captured || streams[i].captured();
            }
        }
    }
    // Several workers on one console that is no terminal (a batch job's log) get their lines
    // joined by the launcher, so that they never mix mid-line.
    bool joined = false;
    const bool stdout_joinable = proc::joinable_console(STDOUT_FILENO);
    const bool stderr_joinable = proc::joinable_console(STDERR_FILENO);
    for (auto& st : streams) {
        st = launch::join_shared_consoles(st, plan.workers.size(), stdout_joinable, stderr_joinable);
        joined = joined || st.joined();
    }
    const auto prefix_template = env.get("TORCHELASTIC_LOG_LINE_PREFIX_TEMPLATE");
    proc::SupervisorOptions supervisor_options;
    supervisor_options.grace_period = seconds_flag(s, "grace_period", 30.0, true);
    // Machine 0 hosts the store; with several machines every launcher then joins it and
    // the rendezvous assigns the ranks, before any worker starts.
    if (plan.torchrun_env && plan.num_machines > 1) {
        seconds_flag(s, "rdzv_timeout", 300.0, false);  // a mistake said before anything starts
        proc::check_resolves(s.str("main_process_ip"));
    }
    std::string store_host;
    std::unique_ptr<proc::StoreServer> store = host_agent_store(plan, s, &store_host);
    if (store && plan.num_machines > 1) {
        // Another machine's launcher that goes away unannounced (SIGKILL, a crash, its host)
        // stops the job everywhere, as a failure it had reported would.
        store->on_disconnect([keys = launch::RendezvousKeys{plan.run_id}](const std::vector<std::string>& added,
                                                                          const store::StoreState& state) {
            std::vector<std::pair<std::string, std::string>> sets;
            if (auto f = launch::lost_machine_failure(keys, added,
                                                      [&state](const std::string& k) { return state.has_key(k); })) {
                sets.push_back(std::move(*f));
            }
            return sets;
        });
    }
    const bool interactive = proc::launcher_owns_terminal();
    std::unique_ptr<proc::MachineLink> link = join_machines(plan, s, store_host);
    if (link) {
        // Another machine's failure stops ours; ours is reported at once (when no restart is left).
        supervisor_options.stop_fd = link->stop_fd();
        supervisor_options.on_launcher_signal = [&plan, &link](int signo) {
            link->report_failure({plan.machine_rank, std::nullopt, "its launcher received " + launch::signal_name(signo)});
        };
        if (plan.max_restarts == 0) {
            supervisor_options.on_first_failure = [&plan, &link](size_t idx, const launch::WaitStatus& st) {
                link->report_failure({plan.machine_rank, plan.workers[idx].rank, launch::describe(st)});
            };
        }
    }
    proc::Supervisor supervisor(supervisor_options);
    std::optional<proc::RunDir> run_dir;
    if (plan.torchrun_env) {
        std::optional<std::string> log_dir;
        if (!s.is_none("log_dir")) {
            log_dir = s.str("log_dir");
        }
        try {
            run_dir.emplace(log_dir, plan.run_id);
        } catch (const std::system_error& e) {
            throw Error(fmt::format("cannot create the run folder{}: {}; pass a writable --log_dir",
                                    log_dir ? " in --log_dir " + *log_dir : std::string(), e.what()));
        }
        if (captured && !log_dir) {
            // The workers' logs outlive the run, as torchrun's do; say where they are.
            run_dir->keep();
            print_stderr("accelerate launch: worker logs in {}\n", run_dir->path());
        }
    }
    // Every way out goes through here: the JSON verdict is written before the run
    // folder (and the error files in it) is removed.
    auto finish = [&](const proc::GroupOutcome& out, const std::vector<std::string>& error_files, int attempt,
                      int status) {
        if (verdict_path) {
            write_verdict_json(*verdict_path, job_verdict(plan, out, error_files, attempt + 1, status));
        }
        supervisor.settle();  // the messages that follow start on a line of their own
        return status;
    };
    // A stop signal read after the workers ended (waiting to restart, or for the other
    // machines) ends the run as one during it would.
    auto finish_by_signal = [&](proc::GroupOutcome& out, const std::vector<std::string>& error_files, int attempt,
                                int signo) {
        out.launcher_signal = signo;
        return finish(out, error_files, attempt, launch::job_exit_status(signo, std::nullopt));
    };
    for (int attempt = 0;; ++attempt) {
        if (store && attempt > 0) {
            // Each attempt starts from a clean key space (torch >= 2.5 no longer
            // prefixes worker keys with the attempt number); the launchers' own keys stay.
            if (link) {
                launch::RendezvousKeys keys{plan.run_id};
                store->with_state([&keys](store::StoreState& state) {
                    state.erase_keys_if([&keys](const std::string& k) { return !keys.is_agent_key(k); });
                });
            } else {
                store->with_state([](store::StoreState& state) { state.clear(); });
            }
        }
        std::vector<proc::ProcessSpec> specs;
        std::vector<std::string> error_files;
        for (size_t i = 0; i < plan.workers.size(); ++i) {
            auto additions = plan.workers[i].env;
            if (run_dir) {
                error_files.push_back(run_dir->error_file(attempt, plan.workers[i].local_rank));
                additions["TORCHELASTIC_ERROR_FILE"] = error_files.back();
                additions["TORCHELASTIC_RESTART_COUNT"] = std::to_string(attempt);
            }
            specs.push_back(proc::ProcessSpec{paths[i], plan.workers[i].argv, full_env(base, additions)});
            // One worker started from an interactive shell gets the terminal, as under upstream
            // (where it shares the launcher's process group): input() and pdb work, Ctrl-C reaches it.
            specs.back().take_terminal = plan.workers.size() == 1 && interactive;
        }
        // <run>/attempt_<n>/<local_rank>/{stdout,stderr}.log for the captured streams.
        std::vector<proc::WorkerOutput> outputs;
        std::vector<std::string> stderr_logs(plan.workers.size());
        for (size_t i = 0; ((captured && run_dir) || joined) && i < plan.workers.size(); ++i) {
            const auto& w = plan.workers[i];
            proc::WorkerOutput o;
            o.streams = streams[i];
            if (captured && run_dir) {
                const std::string dir = run_dir->rank_dir(attempt, w.local_rank);
                o.stdout_path = dir + "/stdout.log";
                o.stderr_path = dir + "/stderr.log";
                o.prefix = launch::line_prefix(prefix_template, s.str("role"), w.rank, w.local_rank);
                if (launch::WorkerStreams::logged(o.streams.err)) {
                    stderr_logs[i] = o.stderr_path;
                }
            }
            outputs.push_back(std::move(o));
        }
        proc::GroupOutcome out = supervisor.run(specs, outputs);
        // From here on, the other machines and the --verdict_json file are told before
        // anything is printed: a console that takes nothing must not hold them up.
        if (out.launcher_signal) {
            if (link) {
                link->report_failure({plan.machine_rank, std::nullopt,
                                      "its launcher received " + launch::signal_name(*out.launcher_signal)});
            }
            const int status =
                finish(out, error_files, attempt, launch::job_exit_status(out.launcher_signal, std::nullopt));
            supervisor.tell(fmt::format("accelerate launch: received {}; stopped all workers\n",
                                        launch::signal_name(*out.launcher_signal)),
                            true);
            if (link) {
                link->linger(std::chrono::seconds(3));
            }
            return status;
        }
        if (out.stopped_externally && link) {
            const int status = finish(out, error_files, attempt, 1);
            supervisor.tell(fmt::format("accelerate launch: {}; stopped all workers on machine {}\n",
                                        link->stop_reason(), plan.machine_rank),
                            true);
            link->linger(std::chrono::seconds(3));
            return status;
        }
        if (!out.first_failure) {
            if (link) {
                // A stop signal while waiting for the other machines ends the wait, and the
                // launcher, by that signal: it is read once here and kept.
                std::optional<int> stop_signal;
                auto note = link->exit_barrier(k_exit_barrier_timeout, [&] {
                    if (!stop_signal) {
                        stop_signal = supervisor.pending_signal();
                    }
                    return stop_signal.has_value();
                });
                if (note) {
                    supervisor.tell(fmt::format("accelerate launch: {}\n", *note), true);
                }
                if (stop_signal) {
                    return finish_by_signal(out, error_files, attempt, *stop_signal);
                }
            }
            return finish(out, error_files, attempt, 0);
        }
        const auto& failed = out.workers[*out.first_failure];
        if (attempt < plan.max_restarts) {
            supervisor.tell(fmt::format("accelerate launch: rank {} {}; restarting the workers (restart {} of {})\n",
                                        plan.workers[*out.first_failure].rank, launch::describe(failed.status),
                                        attempt + 1, plan.max_restarts));
            if (auto sig = supervisor.pending_signal()) {
                return finish_by_signal(out, error_files, attempt, *sig);
            }
            continue;
        }
        if (link) {
            link->report_failure(
                {plan.machine_rank, plan.workers[*out.first_failure].rank, launch::describe(failed.status)});
        }
        // A failed exec ended the child with 127 (not found) or 126 (not runnable).
        const int status = finish(out, error_files, attempt, launch::job_exit_status(std::nullopt, failed.status));
        if (!s.truthy("quiet") || plan.kind != launch::LauncherKind::simple) {
            supervisor.tell(
                verdict_text(plan, out, error_files, stderr_logs, supervisor.recent_stderr(*out.first_failure)), true);
        }
        if (link) {
            link->linger(std::chrono::seconds(3));
        }
        return status;
    }
}

}  // namespace

int run_launch(const std::vector<std::string>& args) {
    ParsedLaunch parsed = parse_launch_args(args);
    if (parsed.help_requested) {
        print_stdout("{}", launch_help());
        return 0;
    }
    launch::LaunchSettings& s = parsed.settings;
    launch::check_flag_conflicts(s);

    Environment env = Environment::from_process();
    std::optional<config::ConfigFile> config;
    if (auto path = launch::config_path_to_load(s, env, is_file(config::default_config_path(env)))) {
        config = config::load_config_file(*path);
    }
    launch::HostFacts facts = probe_host(env, !s.truthy("no_python"));
    launch::Resolution resolution = launch::resolve_settings(s, std::move(config), facts);
    launch::LaunchPlan plan = launch::plan_launch(s, resolution, facts);

    if (auto warning = launch::format_default_warning(resolution.default_warnings); !warning.empty()) {
        print_stderr("{}\n", warning);
    }
    if (s.truthy("dry_run")) {
        print_stdout("{}", launch::format_dry_run(s, resolution, plan));
        return 0;
    }
    for (const auto& note : plan.notes) {
        print_stderr("accelerate launch: {}\n", note);
    }
    if (!plan.agent_warning.empty()) {
        print_stderr("{}", plan.agent_warning);
    }
    check_script(s, env);
    return run_plan(s, plan, env);
}

}  // namespace acc::cli
