#include "acc/cli/launch_parser.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "acc/cli/abbreviations.hpp"
#include "acc/cli/launch_flags.hpp"
#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::launch {

const char* origin_name(Origin origin) {
    switch (origin) {
    case Origin::default_value: return "default";
    case Origin::flag: return "flag";
    case Origin::config_file: return "config file";
    case Origin::hardware: return "hardware";
    case Origin::environment: return "environment";
    case Origin::derived: return "derived";
    }
    return "?";
}

namespace {

bool name_less(const std::pair<std::string, Setting>& entry, std::string_view name) {
    return entry.first < name;
}

}  // namespace

const Setting* LaunchSettings::find(std::string_view name) const {
    auto it = std::lower_bound(m_attrs.begin(), m_attrs.end(), name, name_less);
    return it != m_attrs.end() && it->first == name ? &it->second : nullptr;
}

const Value& LaunchSettings::get(std::string_view name) const {
    static const Value k_none;
    const Setting* s = find(name);
    return s ? s->value : k_none;
}

Origin LaunchSettings::origin(std::string_view name) const {
    const Setting* s = find(name);
    return s ? s->origin : Origin::default_value;
}

void LaunchSettings::set(std::string_view name, Value value, Origin origin) {
    if (m_attrs.empty() || m_attrs.back().first < name) {
        if (m_attrs.capacity() == 0) {
            m_attrs.reserve(256);  // every flag (~130) and what a config file adds, in one allocation
        }
        m_attrs.emplace_back(std::string(name), Setting{std::move(value), origin});
        return;
    }
    auto it = std::lower_bound(m_attrs.begin(), m_attrs.end(), name, name_less);
    if (it != m_attrs.end() && it->first == name) {
        it->second = Setting{std::move(value), origin};
    } else {
        m_attrs.emplace(it, std::string(name), Setting{std::move(value), origin});
    }
}

}  // namespace acc::launch

namespace acc::cli {

namespace {

bool looks_like_option(const std::string& tok) {
    if (tok.size() < 2 || tok[0] != '-' || is_negative_number(tok)) {
        return false;
    }
    // argparse: a word with a space that is not a known option is a value.
    if (tok.find(' ') != std::string::npos && !find_flag(tok.substr(0, tok.find('=')))) {
        return false;
    }
    return true;
}

std::vector<std::string> all_option_names() {
    std::vector<std::string> names;
    for (const auto& f : launch_flags()) {
        for (auto& n : option_strings(f)) {
            names.push_back(std::move(n));
        }
    }
    return names;
}

[[noreturn]] void fail_argument(const FlagSpec& flag, const std::string& what) {
    throw UsageError(fmt::format("argument {}: {}", flag_display_name(flag), what));
}

Value convert(const FlagSpec& flag, const std::string& text) {
    Value v;
    switch (flag.type) {
    case ValueType::str: v = Value::string(text); break;
    case ValueType::integer: {
        auto n = parse_python_int(text);
        if (!n && is_python_int_too_large(text)) {
            fail_argument(flag, fmt::format("{} is too large (at most 9223372036854775807)", Value::string(text).repr()));
        }
        if (!n) {
            fail_argument(flag, fmt::format("invalid int value: {}", Value::string(text).repr()));
        }
        v = Value::integer(*n);
        break;
    }
    case ValueType::real: {
        auto d = parse_python_float(text);
        if (!d) {
            fail_argument(flag, fmt::format("invalid float value: {}", Value::string(text).repr()));
        }
        v = Value::real(*d);
        break;
    }
    case ValueType::py_bool: v = Value::boolean(!text.empty()); break;
    case ValueType::str_to_bool: {
        auto b = str_to_bool(text);
        if (!b) {
            fail_argument(flag, fmt::format("invalid str_to_bool value: {}", Value::string(text).repr()));
        }
        v = Value::integer(*b);
        break;
    }
    case ValueType::bool_tuple: {
        std::vector<Value> items;
        for (const auto& part : split(text, ',')) {
            auto b = str_to_bool(part);
            if (!b) {
                fail_argument(flag, fmt::format("invalid value: {} (expected a comma list of true/false)",
                                                Value::string(text).repr()));
            }
            items.push_back(Value::integer(*b));
        }
        v = Value::list(std::move(items));
        break;
    }
    }
    if (!flag.choices.empty()) {
        bool ok = false;
        for (std::string_view c : flag.choices) {
            ok = ok || c == text;
        }
        if (!ok) {
            fail_argument(flag, fmt::format("invalid choice: {} (choose from {})", Value::string(text).repr(),
                                            fmt::join(flag.choices, ", ")));
        }
    }
    return v;
}

class Parser {
  public:
    explicit Parser(const std::vector<std::string>& args) : m_args(args) {}

    ParsedLaunch run() {
        // In name order, so that every default is appended (see LaunchSettings).
        for (const FlagSpec* f_ptr : launch_flags_by_dest()) {
            const FlagSpec& f = *f_ptr;
            if (f.kind != FlagKind::help && !m_out.settings.has(f.dest)) {
                m_out.settings.set(f.dest, f.default_value.to_value(), launch::Origin::default_value);
            }
        }
        while (m_pos < m_args.size()) {
            const std::string& tok = m_args[m_pos];
            if (tok == "--") {
                // A bare `--` before the script is dropped, as argparse does.
                ++m_pos;
                m_dropped_dashdash = true;
                take_script();
                break;
            }
            if (looks_like_option(tok)) {
                ++m_pos;
                if (tok.rfind("--", 0) == 0) {
                    long_option(tok);
                } else {
                    short_options(tok);
                }
                if (m_out.help_requested) {
                    return std::move(m_out);
                }
                continue;
            }
            take_script();
            break;
        }
        if (m_out.settings.training_script.empty() && !m_have_script) {
            throw UsageError("the following arguments are required: training_script, training_script_args");
        }
        m_out.settings.nondefault.insert("training_script");
        m_out.settings.nondefault.insert("training_script_args");
        return std::move(m_out);
    }

  private:
    void take_script() {
        if (m_pos >= m_args.size()) {
            return;
        }
        m_have_script = true;
        m_out.settings.training_script = m_args[m_pos++];
        m_out.settings.training_script_args.assign(m_args.begin() + static_cast<long>(m_pos), m_args.end());
        m_pos = m_args.size();
        // argparse drops one `--` among the positionals: the one before the script, else
        // one right after it (`train.py -- --lr 1` gives the script `--lr 1`).
        auto& rest = m_out.settings.training_script_args;
        if (!m_dropped_dashdash && !rest.empty() && rest.front() == "--") {
            rest.erase(rest.begin());
        }
    }

    void long_option(const std::string& tok) {
        std::string name = tok;
        std::optional<std::string> explicit_value;
        if (auto eq = tok.find('='); eq != std::string::npos) {
            name = tok.substr(0, eq);
            explicit_value = tok.substr(eq + 1);
        }
        const FlagSpec* flag = find_flag(name);
        if (!flag) {
            unknown(tok, name);
        }
        apply(*flag, explicit_value);
    }

    // "-mq" is -m and -q; "-t3" is -t with value 3; "-t=3" too. As argparse: "-q=m" is split at
    // '=' first and the rest read as more flags; at a letter that is no flag, the rest is a
    // value given to the flag before it. The whole word is checked before help is shown.
    void short_options(const std::string& tok) {
        size_t i = 1;
        const FlagSpec* previous = nullptr;
        while (i < tok.size()) {
            if (i == 2 && tok[i] == '=') {
                if (++i == tok.size()) {
                    fail_argument(*previous, "ignored explicit argument ''");
                }
            }
            std::string name = std::string("-") + tok[i];
            const FlagSpec* flag = find_flag(name);
            if (!flag) {
                if (i == 1) {
                    unknown(tok, tok.substr(0, tok.find('=')));
                }
                fail_argument(*previous, fmt::format("ignored explicit argument {}", Value::string(tok.substr(i)).repr()));
            }
            if (flag->kind == FlagKind::value) {
                std::optional<std::string> rest;
                if (i + 1 < tok.size()) {
                    rest = tok.substr(i + 1);
                    if (!rest->empty() && (*rest)[0] == '=') {
                        rest = rest->substr(1);
                    }
                }
                apply(*flag, rest);
                return;
            }
            apply(*flag, std::nullopt);
            previous = flag;
            ++i;
        }
    }

    [[noreturn]] void unknown(const std::string& tok, const std::string& name) {
        std::string msg = fmt::format("unrecognized arguments: {}", tok);
        if (auto guess = closest_match(name, all_option_names())) {
            msg += fmt::format(" (did you mean {}?)", *guess);
        }
        throw UsageError(msg);
    }

    void apply(const FlagSpec& flag, const std::optional<std::string>& explicit_value) {
        auto& s = m_out.settings;
        switch (flag.kind) {
        case FlagKind::help:
            if (explicit_value) {  // `--help=0` is a mistake, not a request for help
                fail_argument(flag, fmt::format("ignored explicit argument {}", Value::string(*explicit_value).repr()));
            }
            m_out.help_requested = true;
            return;
        case FlagKind::store_true:
        case FlagKind::store_false:
            if (explicit_value) {
                fail_argument(flag, fmt::format("ignored explicit argument {}", Value::string(*explicit_value).repr()));
            }
            s.set(flag.dest, Value::boolean(flag.kind == FlagKind::store_true), launch::Origin::flag);
            break;
        case FlagKind::value:
        case FlagKind::append: {
            std::string text;
            if (explicit_value) {
                text = *explicit_value;
            } else if (m_pos < m_args.size() && !looks_like_option(m_args[m_pos]) && m_args[m_pos] != "--") {
                text = m_args[m_pos++];
            } else {
                fail_argument(flag, "expected one argument");
            }
            Value v = convert(flag, text);
            if (flag.kind == FlagKind::append) {
                std::vector<Value> items = s.get(flag.dest).items();
                items.push_back(std::move(v));
                v = Value::list(std::move(items));
            }
            s.set(flag.dest, std::move(v), launch::Origin::flag);
            break;
        }
        }
        if (flag.tracked) {
            s.nondefault.emplace(flag.dest);
        }
    }

    const std::vector<std::string>& m_args;
    size_t m_pos = 0;
    bool m_have_script = false;
    bool m_dropped_dashdash = false;  // the `--` argparse drops was the one before the script
    ParsedLaunch m_out;
};

}  // namespace

ParsedLaunch parse_launch_args(const std::vector<std::string>& args) {
    return Parser(args).run();
}

}  // namespace acc::cli
