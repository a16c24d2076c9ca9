#include "acc/cli/config_command.hpp"

#include <gnu/libc-version.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "acc/cli/abbreviations.hpp"
#include "acc/cli/prompters.hpp"
#include "acc/proc/subprocess.hpp"
#include "acc/config/config_commands.hpp"
#include "acc/config/config_file.hpp"
#include "acc/config/serialize.hpp"
#include "acc/config/wizard.hpp"
#include "acc/proc/host_probe.hpp"
#include "acc/proc/atomic_file.hpp"
#include "acc/util/console.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

#ifndef ACC_NATIVE_VERSION
#define ACC_NATIVE_VERSION "0.1.0"
#endif

namespace acc::cli {

namespace {

// ---- help text, as upstream's argparse prints it at 80 columns ----

std::string wrap(const std::string& text, size_t width, const std::string& indent) {
    std::string out, line;
    for (const auto& word : split(text, ' ')) {
        if (word.empty()) {
            continue;
        }
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += indent + line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    if (!line.empty()) {
        out += indent + line + "\n";
    }
    return out;
}

const std::string k_help_indent(24, ' ');
const char* const k_store_help =
    "The path to use to store the config file. Will default to a file named default_config.yaml in the cache "
    "location, which is the content of the environment `HF_HOME` suffixed with 'accelerate', or if you don't have "
    "such an environment variable, your cache directory ('~/.cache' or the content of `XDG_CACHE_HOME`) suffixed "
    "with 'huggingface'.";

std::string config_help() {
    return "usage: accelerate <command> [<args>] config [-h] [--config_file CONFIG_FILE]\n"
           "                                            {default,update} ...\n\n"
           "Launches a series of prompts to create and save a `default_config.yaml`\n"
           "configuration file for your training system. Should always be ran first on\n"
           "your machine\n\n"
           "options:\n"
           "  -h, --help            show this help message and exit\n"
           "  --config_file CONFIG_FILE, --config-file CONFIG_FILE\n" +
           wrap(k_store_help, 54, k_help_indent) +
           "\nsubcommands:\n"
           "  {default,update}\n"
           "    default             Create a default config file for Accelerate with only\n"
           "                        a few flags set.\n"
           "    update              Update an existing config file with the latest\n"
           "                        defaults while maintaining the old configuration.\n";
}

std::string default_help() {
    return "usage: accelerate config default [-h]\n" + std::string(52, ' ') + "[--config_file SAVE_LOCATION]\n" +
           std::string(52, ' ') +
           "[--mixed_precision {no,fp16,bf16}]\n\n"
           "options:\n"
           "  -h, --help            show this help message and exit\n"
           "  --config_file SAVE_LOCATION, --config-file SAVE_LOCATION\n" +
           wrap(k_store_help, 54, k_help_indent) +
           "  --mixed_precision {no,fp16,bf16}, --mixed-precision {no,fp16,bf16}\n" +
           wrap("Whether or not to use mixed precision training. Choose between FP16 and BF16 (bfloat16) training. "
                "BF16 training is only supported on Nvidia Ampere GPUs and PyTorch 1.10 or later.",
                54, k_help_indent);
}

std::string update_help() {
    std::string text = k_store_help;
    text.replace(0, std::string("The path to use to store the config file.").size(),
                 "The path to the config file to update.");
    return "usage: accelerate config update [-h]\n" + std::string(51, ' ') +
           "[--config_file CONFIG_FILE]\n\n"
           "options:\n"
           "  -h, --help            show this help message and exit\n"
           "  --config_file CONFIG_FILE, --config-file CONFIG_FILE\n" +
           wrap(text, 54, k_help_indent);
}

std::string simple_help(const std::string& command, const std::string& option_help) {
    return fmt::format("usage: accelerate <command> [<args>] {} [-h] [--config_file CONFIG_FILE]\n\n"
                       "options:\n"
                       "  -h, --help            show this help message and exit\n"
                       "  --config_file CONFIG_FILE, --config-file CONFIG_FILE\n",
                       command) +
           wrap(option_help, 54, k_help_indent);
}

// ---- parsing with CLI11, errors reported the project's way ----

// What the command's upstream parser registers, in argparse's order (help first).
ParserOptions config_file_options() {
    return {{"--help", "--config_file", "--config-file"}, {"--config_file", "--config-file"}, {}};
}

ParserOptions config_options() {
    ParserOptions def = config_file_options();
    def.options.insert(def.options.end(), {"--mixed_precision", "--mixed-precision"});
    def.valued.insert(def.valued.end(), {"--mixed_precision", "--mixed-precision"});
    ParserOptions top = config_file_options();
    top.subcommands = {{"default", def}, {"update", config_file_options()}};
    return top;
}

// A usage error of the `where` parser; `help_for` names the command whose -h to suggest.
UsageError usage_error(const std::string& where, const std::string& msg, const std::string& help_for) {
    return UsageError(fmt::format("{}: error: {} (run `accelerate {} -h` for its flags)", where, msg, help_for));
}

void parse(CLI::App& app, const std::vector<std::string>& typed, const std::string& where, const ParserOptions& options) {
    const auto parse_error = [&](const std::string& msg) { return usage_error(where, msg, where); };
    std::vector<std::string> args;
    try {
        args = expand_abbreviations(typed, options);
    } catch (const UsageError& e) {
        throw parse_error(e.what());
    }
    // CLI11 takes the words last first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::ExtrasError&) {
        // Named in the order they were typed, as argparse does (CLI11's own message lists
        // them last first).
        std::vector<std::string> extras;
        for (const CLI::App* a = &app; a != nullptr;) {
            for (const auto& x : a->remaining()) {
                extras.push_back(x);
            }
            const auto subs = a->get_subcommands();
            a = subs.empty() ? nullptr : subs.front();
        }
        if (!options.subcommands.empty() && app.get_subcommands().empty() && !extras.empty() &&
            !extras.front().starts_with('-')) {
            std::vector<std::string> names;
            for (const auto& [name, sub] : options.subcommands) {
                names.push_back("'" + name + "'");
            }
            throw parse_error(fmt::format("argument subcommand: invalid choice: {} (choose from {})",
                                          Value::string(extras.front()).repr(), join(names, ", ")));
        }
        throw parse_error("unrecognized arguments: " + join(extras, " "));
    } catch (const CLI::ArgumentMismatch& e) {
        // CLI11: "--config_file: 1 required TEXT missing"; argparse names it as below.
        const std::string what = e.what();
        throw parse_error(
            fmt::format("argument {}: expected one argument", argparse_flag_name(what.substr(0, what.find(':')))));
    } catch (const CLI::ParseError& e) {
        throw parse_error(trim(e.what()));
    }
}

void setup_app(CLI::App& app, bool& help, std::optional<std::string>& config_file) {
    // A repeated option: the last one counts, as in argparse (subcommands added later
    // inherit this).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.set_help_flag();
    app.add_flag("-h,--help", help);
    app.add_option("--config_file,--config-file", config_file);
}

// ---- config ----

bool file_exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

int config_default(const std::optional<std::string>& save_location, const std::string& mixed_precision,
                   const Environment& env) {
    std::string path = save_location.value_or(config::default_config_path(env));
    proc::make_directories(proc::parent_directory(path));
    if (file_exists(path)) {
        print_stdout("Configuration already exists at {}, will not override. Run `accelerate config` manually or pass "
                   "a different `save_location`.\n",
                   path);
        return 0;
    }
    Value dict = config::default_config_dict(mixed_precision, proc::cuda_device_count(env));
    proc::write_file_atomically(path, config::to_json(dict));  // upstream always writes JSON here
    print_stdout("accelerate configuration saved at {}\n", config::python_path_str(path));
    return 0;
}

int config_update(const std::optional<std::string>& config_file, const Environment& env) {
    std::string path;
    if (config_file) {
        path = *config_file;
        if (!file_exists(path)) {
            throw Error(fmt::format("The passed config file located at {} doesn't exist.", path));
        }
    } else {
        path = config::default_config_path(env);
        if (!file_exists(path)) {
            throw Error(fmt::format("there is no config file at {} to update; run `accelerate config` to write one, "
                                    "or pass --config_file PATH",
                                    path));
        }
    }
    Value dict = config::loaded_config_dict(config::load_config_file(path));
    proc::write_file_atomically(path, config::render_config(dict, path));
    print_stdout("Successfully updated the configuration file at {}.\n", path);
    return 0;
}

int config_wizard(const std::optional<std::string>& config_file, const Environment& env) {
    std::string path = config_file.value_or(config::default_config_path(env));
    config::WizardContext context{env, proc::current_directory(), [](const std::string& user) {
                                      std::optional<std::string> home;
                                      const passwd* pw = user.empty() ? getpwuid(getuid()) : getpwnam(user.c_str());
                                      if (pw && pw->pw_dir) {
                                          home = pw->pw_dir;
                                      }
                                      return home;
                                  }};
    Value result;
    {
        InterruptGuard guard;
        try {
            if (isatty(STDIN_FILENO)) {
                TerminalPrompter prompter;
                result = config::run_wizard(prompter, context);
            } else {
                LinePrompter prompter;
                result = config::run_wizard(prompter, context);
            }
        } catch (const Interrupted& e) {
            print_stderr("\naccelerate config: interrupted; nothing was written{}\n",
                       file_exists(path) ? fmt::format(" and {} is unchanged", path) : "");
            return e.signal == SIGINT ? 130 : 128 + e.signal;
        } catch (const config::InputEnded& e) {
            throw Error(fmt::format("the input ended before the question \"{}\" was answered; nothing was written "
                                    "(give one line per question, an empty line for the default)",
                                    trim(e.what())));
        }
    }
    Value dict = config::to_dict(result);
    proc::make_directories(proc::parent_directory(path));
    proc::write_file_atomically(path, config::render_config(dict, path));
    print_stdout("accelerate configuration saved at {}\n", path);
    return 0;
}

// ---- env ----

std::string platform_string() {
    utsname u {};
    if (uname(&u) != 0) {
        return "unknown";
    }
    std::string p = fmt::format("{}-{}-{}-with-glibc{}", u.sysname, u.release, u.machine, gnu_get_libc_version());
    for (char& c : p) {
        if (c == ' ') {
            c = '_';
        } else if (std::strchr("/\\:;\"()", c)) {
            c = '-';
        }
    }
    while (p.find("--") != std::string::npos) {
        p.replace(p.find("--"), 2, "-");
    }
    return p;
}

const char* const k_env_probe = R"PY(
import json, platform
r = {"python": platform.python_version()}
try:
    import numpy
    r["numpy"] = numpy.__version__
except Exception:
    pass
try:
    import torch
    r["torch"] = str(torch.__version__)
    acc = "N/A"
    if torch.cuda.is_available():
        acc = "CUDA"
        r["device"] = "GPU type: " + torch.cuda.get_device_name()
    elif hasattr(torch, "xpu") and torch.xpu.is_available():
        acc = "XPU"
        r["device"] = "XPU type: " + torch.xpu.get_device_name()
    r["accelerator"] = acc
except Exception:
    pass
try:
    import importlib.metadata as md
    r["accelerate"] = md.version("accelerate")
except Exception:
    try:
        import accelerate
        r["accelerate"] = accelerate.__version__
    except Exception:
        pass
print(json.dumps(r))
)PY";

int run_env_command(const std::optional<std::string>& config_file, const Environment& env) {
    config::EnvFacts facts;
    facts.native_version = ACC_NATIVE_VERSION;
    facts.platform = platform_string();
    facts.accelerate_location = proc::find_executable("accelerate", env).value_or(proc::self_executable());
    facts.ram_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
    facts.cuda_devices = proc::cuda_device_count(env);
    facts.config_passed = config_file.has_value();
    // The config first: a bad file is the error to report, before any slow probe.
    if (config_file) {
        facts.config = config::loaded_config_dict(config::load_config_file(*config_file));
    } else if (std::string path = config::default_config_path(env); file_exists(path)) {
        facts.config = config::loaded_config_dict(config::load_config_file(path));
    }
    if (auto python = proc::find_python(env)) {
        facts.python_executable = *python;
        proc::Captured probe = proc::run_capture({*python, "-c", k_env_probe}, env, 120);
        if (probe.status == 0) {
            try {
                Value info = config::parse_yaml(probe.out, "python probe");
                auto get = [&](const char* key) {
                    const Value* v = info.find(key);
                    return v && v->is_string() ? v->as_string() : std::string();
                };
                facts.python_version = get("python");
                facts.numpy_version = get("numpy");
                facts.torch_version = get("torch");
                facts.torch_accelerator = get("accelerator");
                facts.device_type_line = get("device");
                facts.accelerate_version = get("accelerate");
            } catch (const Error&) {
                // an odd interpreter: report what we know without it
            }
        }
    }
    print_stdout("{}", config::env_report(facts));
    return 0;
}

// ---- test ----

const char* const k_find_test_script =
    "import os, accelerate; print(os.path.join(os.path.dirname(accelerate.__file__), 'test_utils', 'scripts', "
    "'test_script.py'))";

int run_test_command(const std::optional<std::string>& config_file, const Environment& env) {
    auto python = proc::find_python(env);
    if (!python) {
        throw Error("accelerate test needs Python with the accelerate package: put python3 on PATH or set "
                    "PYTHON_EXEC=/path/to/python");
    }
    proc::Captured probe = proc::run_capture({*python, "-c", k_find_test_script}, env, 120);
    std::string script = trim(probe.out);
    if (probe.status != 0 || script.empty()) {
        throw Error(fmt::format("accelerate test runs the Python package's test script, but `import accelerate` "
                                "fails in {}; install it (pip install accelerate) or set PYTHON_EXEC to a Python "
                                "that has it",
                                *python));
    }
    struct stat st {};
    if (stat(script.c_str(), &st) != 0) {
        throw Error(fmt::format("the accelerate package in {} has no test script at {}; reinstall it", *python, script));
    }
    std::vector<std::string> argv = {proc::self_executable(), "launch"};
    std::string shown = "accelerate launch";
    if (config_file) {
        argv.push_back("--config_file=" + *config_file);
        shown += " --config_file=" + *config_file;
    }
    argv.push_back(script);
    shown += " " + script;
    print_stdout("\nRunning:  {}\n", shown);
    std::fflush(stdout);
    std::vector<std::string> stderr_lines;
    int rc = proc::run_streaming(
        argv, env,
        [](const std::string& line) {
            std::string l = line;
            while (!l.empty() && (l.back() == ' ' || l.back() == '\r' || l.back() == '\t')) {
                l.pop_back();
            }
            print_stdout("stdout: {}\n", l);
            std::fflush(stdout);
        },
        [&](const std::string& line) {
            print_stderr("stderr: {}\n", line);
            stderr_lines.push_back(line);
        });
    if (rc == 0) {
        print_stdout("Test is a success! You are ready for your distributed training!\n");
        return 0;
    }
    print_stderr("accelerate test: '{}' failed with returncode {}\n\nThe combined stderr from workers follows:\n",
               shown, rc);
    for (const auto& l : stderr_lines) {
        print_stderr("{}\n", l);
    }
    return 1;
}

}  // namespace

int run_config(const std::vector<std::string>& args) {
    bool help = false, default_help_flag = false, update_help_flag = false;
    std::optional<std::string> config_file, save_location, update_file;
    std::string mixed_precision = "no";
    CLI::App app{"", "config"};
    setup_app(app, help, config_file);
    CLI::App* def = app.add_subcommand("default");
    def->set_help_flag();
    def->add_flag("-h,--help", default_help_flag);
    def->add_option("--config_file,--config-file", save_location);
    def->add_option("--mixed_precision,--mixed-precision", mixed_precision);
    CLI::App* upd = app.add_subcommand("update");
    upd->set_help_flag();
    upd->add_flag("-h,--help", update_help_flag);
    upd->add_option("--config_file,--config-file", update_file);
    app.require_subcommand(0, 1);
    parse(app, args, "config", config_options());

    Environment env = Environment::from_process();
    if (def->parsed()) {
        if (default_help_flag) {
            print_stdout("{}", default_help());
            return 0;
        }
        if (mixed_precision != "no" && mixed_precision != "fp16" && mixed_precision != "bf16") {
            throw usage_error("config",
                              fmt::format("argument --mixed_precision/--mixed-precision: invalid choice: {} (choose "
                                          "from 'no', 'fp16', 'bf16')",
                                          Value::string(mixed_precision).repr()),
                              "config default");
        }
        return config_default(save_location, mixed_precision, env);
    }
    if (upd->parsed()) {
        if (update_help_flag) {
            print_stdout("{}", update_help());
            return 0;
        }
        return config_update(update_file, env);
    }
    if (help) {
        print_stdout("{}", config_help());
        return 0;
    }
    return config_wizard(config_file, env);
}

int run_env(const std::vector<std::string>& args) {
    bool help = false;
    std::optional<std::string> config_file;
    CLI::App app{"", "env"};
    setup_app(app, help, config_file);
    parse(app, args, "env", config_file_options());
    if (help) {
        print_stdout("{}", simple_help("env", "The config file to use for the default values in the launching script."));
        return 0;
    }
    return run_env_command(config_file, Environment::from_process());
}

int run_test(const std::vector<std::string>& args) {
    bool help = false;
    std::optional<std::string> config_file;
    CLI::App app{"", "test"};
    setup_app(app, help, config_file);
    parse(app, args, "test", config_file_options());
    if (help) {
        print_stdout("{}", simple_help("test", k_store_help));
        return 0;
    }
    return run_test_command(config_file, Environment::from_process());
}

int run_with_python_package(const std::string& command, const std::vector<std::string>& args) {
    Environment env = Environment::from_process();
    auto python = proc::find_python(env);
    std::string reason;
    if (!python) {
        reason = "no Python was found (put python3 on PATH or set PYTHON_EXEC)";
    } else {
        proc::Captured probe = proc::run_capture(
            {*python, "-c",
             "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('accelerate.commands.accelerate_cli') "
             "else 1)"},
            env, 120);
        if (probe.status == 0) {
            std::vector<std::string> argv = {*python, "-m", "accelerate.commands.accelerate_cli", command};
            argv.insert(argv.end(), args.begin(), args.end());
            std::fflush(stdout);
            std::fflush(stderr);
            proc::exec_replace(argv);
            throw Error(fmt::format("cannot run {}: {}", *python, std::strerror(errno)));
        }
        reason = fmt::format("the Python package `accelerate` is not importable by {} (pip install accelerate, or "
                             "set PYTHON_EXEC to a Python that has it)",
                             *python);
    }
    throw Error(fmt::format("`accelerate {}` is not built into this native accelerate and is run by the Python "
                            "package, but {}",
                            command, reason));
}

}  // namespace acc::cli
