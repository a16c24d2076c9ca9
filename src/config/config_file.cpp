#include "acc/config/config_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::config {

namespace {

// YAML 1.1 resolution of plain scalars, as PyYAML's SafeLoader does it.
Value resolve_plain_scalar(const std::string& s) {
    static const std::set<std::string> nulls = {"", "~", "null", "Null", "NULL"};
    static const std::set<std::string> trues = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static const std::set<std::string> falses = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    static const std::regex int_re(R"([-+]?(0|[1-9][0-9_]*))");
    static const std::regex hex_re(R"([-+]?0x[0-9a-fA-F_]+)");
    static const std::regex oct_re(R"([-+]?0[0-7_]+)");
    static const std::regex bin_re(R"([-+]?0b[01_]+)");
    static const std::regex sexagesimal_re(R"([-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)");  // 1:30 is 90
    static const std::regex sexagesimal_float_re(R"([-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*)");  // 1:30.5 is 90.5
    static const std::regex float_re(
        R"([-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)?|\.[0-9_]+([eE][-+][0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
    if (nulls.count(s)) {
        return Value::none();
    }
    if (trues.count(s)) {
        return Value::boolean(true);
    }
    if (falses.count(s)) {
        return Value::boolean(false);
    }
    std::string digits;
    for (char c : s) {
        if (c != '_') {
            digits += c;
        }
    }
    try {
        if (std::regex_match(s, int_re)) {
            // Any int64; beyond it (Python's int has no bound) the text stays as it is.
            auto n = parse_python_int(digits);
            return n ? Value::integer(*n) : Value::string(s);
        }
        if (std::regex_match(s, hex_re)) {
            return Value::integer(std::stoll(digits, nullptr, 16));
        }
        if (std::regex_match(s, oct_re)) {
            return Value::integer(std::stoll(digits, nullptr, 8));
        }
        if (std::regex_match(s, bin_re)) {
            const size_t b = digits.find('b');
            const std::int64_t v = std::stoll(digits.substr(b + 1), nullptr, 2);
            return Value::integer(digits[0] == '-' ? -v : v);
        }
        if (std::regex_match(s, sexagesimal_re)) {
            std::int64_t v = 0;
            for (const auto& part : split(digits[0] == '-' || digits[0] == '+' ? digits.substr(1) : digits, ':')) {
                if (__builtin_mul_overflow(v, 60, &v) || __builtin_add_overflow(v, std::stoll(part), &v)) {
                    return Value::string(s);  // beyond 64 bits: as a too-large decimal
                }
            }
            return Value::integer(digits[0] == '-' ? -v : v);
        }
    } catch (const std::exception&) {
        return Value::string(s);
    }
    if (std::regex_match(s, sexagesimal_float_re)) {
        // As PyYAML: each part a float, summed from the last in powers of 60 (same order, same
        // rounding).
        const auto parts = split(digits[0] == '-' || digits[0] == '+' ? digits.substr(1) : digits, ':');
        double v = 0;
        double base = 1;
        for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
            v += parse_python_float(*part).value_or(0) * base;
            base *= 60;
        }
        return Value::real(digits[0] == '-' ? -v : v);
    }
    if (std::regex_match(s, float_re)) {
        if (auto d = parse_python_float(digits)) {
            return Value::real(*d);
        }
        std::string lowered = to_lower(digits);
        if (lowered.find("nan") != std::string::npos) {
            return Value::real(std::numeric_limits<double>::quiet_NaN());
        }
        return Value::real(lowered[0] == '-' ? -std::numeric_limits<double>::infinity()
                                             : std::numeric_limits<double>::infinity());
    }
    return Value::string(s);
}

// A plain scalar of a .json file, as Python's json module reads it (1e-05 is a float there).
Value resolve_json_scalar(const std::string& s) {
    static const std::regex int_re(R"(-?(0|[1-9][0-9]*))");
    static const std::regex real_re(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
    if (s == "true" || s == "false") {
        return Value::boolean(s == "true");
    }
    if (s == "null") {
        return Value::none();
    }
    if (s == "NaN") {
        return Value::real(std::numeric_limits<double>::quiet_NaN());
    }
    if (s == "Infinity" || s == "-Infinity") {
        return Value::real(s[0] == '-' ? -std::numeric_limits<double>::infinity()
                                       : std::numeric_limits<double>::infinity());
    }
    if (std::regex_match(s, int_re)) {
        auto n = parse_python_int(s);
        return n ? Value::integer(*n) : Value::string(s);  // as the YAML reader does beyond int64
    }
    if (std::regex_match(s, real_re)) {
        if (auto d = parse_python_float(s)) {
            return Value::real(*d);
        }
    }
    return resolve_plain_scalar(s);
}

std::string where(const YAML::Mark& mark, std::string_view origin) {
    if (mark.is_null()) {
        return std::string(origin);
    }
    return fmt::format("{}:{}:{}", origin, mark.line + 1, mark.column + 1);
}

// What converting one document needs besides the node: where it came from, and a bound
// on the values made (aliases share nodes in yaml-cpp but are copies in a Value: ten
// levels of ten aliases each would be 10^10 values from a file of a few hundred bytes).
struct Conversion {
    std::string_view origin;
    bool json = false;
    std::string_view text;  // what was parsed: marks index it
    size_t values = 0;
};

constexpr size_t k_max_values = 100000;  // a real config holds a few hundred

// yaml-cpp takes a quoted scalar the file ends inside of (`key: 'abc`) as if it were
// closed; PyYAML refuses it. `pos` is where the scalar starts, at its quote.
bool quote_closed(std::string_view text, size_t pos) {
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) {
        return true;  // not a quoted scalar (a block scalar, or !!str on a plain one)
    }
    const char quote = text[pos];
    for (size_t i = pos + 1; i < text.size(); ++i) {
        if (quote == '"' && text[i] == '\\') {
            ++i;  // an escape: the next character is not the end
        } else if (text[i] == quote) {
            if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' is a quote inside a single-quoted scalar
            } else {
                return true;
            }
        }
    }
    return false;
}

const std::string k_tag = "tag:yaml.org,2002:";

Value convert(const YAML::Node& node, Conversion& c) {
    if (++c.values > k_max_values) {
        throw ConfigError(fmt::format("{}: more than {} values once its YAML aliases are expanded; a config file "
                                      "needs no aliases that multiply like this",
                                      c.origin, k_max_values));
    }
    const std::string& tag = node.Tag();
    // PyYAML's safe_load knows the standard tags only: `!!python/...` or a local `!tag` is an error.
    static const std::set<std::string, std::less<>> k_safe = {"str",    "int",    "float", "bool", "null",
                                                              "map",    "seq",    "binary", "timestamp",
                                                              "omap",   "pairs",  "set"};
    const bool standard_tag = tag.empty() || tag == "?" || tag == "!" ||
                              (tag.starts_with(k_tag) && k_safe.count(std::string_view(tag).substr(k_tag.size())));
    if (!standard_tag) {
        const std::string shown = tag.starts_with(k_tag) ? "!!" + tag.substr(k_tag.size()) : tag;
        throw ConfigError(fmt::format("{}: the YAML tag {} is not allowed in a config file; remove it",
                                      where(node.Mark(), c.origin), shown));
    }
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return Value::none();
    case YAML::NodeType::Scalar: {
        if (!node.Mark().is_null() && !quote_closed(c.text, static_cast<size_t>(node.Mark().pos))) {
            throw ConfigError(fmt::format("{}: invalid YAML: a quoted value is never closed (the file ends inside "
                                          "it); add the closing quote",
                                          where(node.Mark(), c.origin)));
        }
        if (tag == "?") {
            return c.json ? resolve_json_scalar(node.Scalar()) : resolve_plain_scalar(node.Scalar());
        }
        const std::string_view kind = tag.starts_with(k_tag) ? std::string_view(tag).substr(k_tag.size()) : "";
        // PyYAML's constructors for explicit tags: null whatever the text, bool in any case,
        // float as float() reads it (1e5 too), int as the resolver's forms.
        if (kind == "null") {
            return Value::none();
        }
        if (kind == "int" || kind == "float" || kind == "bool") {
            const std::string& text = node.Scalar();
            std::optional<Value> v;
            if (kind == "bool") {
                const Value b = resolve_plain_scalar(to_lower(text));
                if (b.kind() == Value::Kind::boolean) {
                    v = b;
                }
            } else if (kind == "int") {
                const Value i = resolve_plain_scalar(text);
                if (i.kind() == Value::Kind::integer) {
                    v = i;
                }
            } else if (auto d = parse_python_float(text)) {
                v = Value::real(*d);
            }
            if (!v) {
                throw ConfigError(fmt::format("{}: {} is not a valid !!{}", where(node.Mark(), c.origin),
                                              Value::string(text).repr(), kind));
            }
            return *v;
        }
        return Value::string(node.Scalar());  // quoted, !!str, or a standard tag read as text
    }
    case YAML::NodeType::Sequence: {
        std::vector<Value> items;
        for (const auto& child : node) {
            items.push_back(convert(child, c));
        }
        return Value::list(std::move(items));
    }
    case YAML::NodeType::Map: {
        std::vector<std::pair<std::string, Value>> entries;
        std::unordered_map<std::string, size_t> index;  // a scan per key would be quadratic
        for (const auto& kv : node) {
            if (!kv.first.IsScalar()) {
                throw ConfigError(fmt::format("{}: config keys must be plain names", where(kv.first.Mark(), c.origin)));
            }
            std::string key = kv.first.Scalar();
            Value v = convert(kv.second, c);
            if (auto it = index.find(key); it != index.end()) {
                entries[it->second].second = std::move(v);  // PyYAML keeps the last of duplicated keys
            } else {
                index.emplace(key, entries.size());
                entries.emplace_back(std::move(key), std::move(v));
            }
        }
        return Value::map(std::move(entries));
    }
    }
    return Value::none();
}

struct FieldDefault {
    const char* name;
    Value value;
};

const std::vector<FieldDefault>& field_defaults() {
    static const std::vector<FieldDefault> defaults = [] {
        auto empty = Value::map({});
        return std::vector<FieldDefault>{
            {"compute_environment", Value::none()},
            {"distributed_type", Value::none()},
            {"mixed_precision", Value::none()},
            {"use_cpu", Value::boolean(false)},
            {"debug", Value::boolean(false)},
            {"num_processes", Value::integer(-1)},
            {"machine_rank", Value::integer(0)},
            {"num_machines", Value::integer(1)},
            {"gpu_ids", Value::none()},
            {"main_process_ip", Value::none()},
            {"main_process_port", Value::none()},
            {"rdzv_backend", Value::string("static")},
            {"same_network", Value::boolean(false)},
            {"main_training_function", Value::string("main")},
            {"enable_cpu_affinity", Value::boolean(false)},
            {"fp8_config", empty},
            {"deepspeed_config", empty},
            {"fsdp_config", empty},
            {"parallelism_config", empty},
            {"megatron_lm_config", empty},
            {"mpirun_config", empty},
            {"downcast_bf16", Value::boolean(false)},
            {"tpu_name", Value::none()},
            {"tpu_zone", Value::none()},
            {"tpu_use_cluster", Value::boolean(false)},
            {"tpu_use_sudo", Value::boolean(false)},
            {"command_file", Value::none()},
            {"commands", Value::none()},
            {"tpu_vm", Value::none()},
            {"tpu_env", Value::none()},
            {"dynamo_config", empty},
        };
    }();
    return defaults;
}

// SageMaker configs have their own fields; we accept them so the launcher can
// say clearly that SageMaker jobs are not started natively.
const std::set<std::string>& sagemaker_fields() {
    static const std::set<std::string> f = {
        "compute_environment", "distributed_type", "mixed_precision", "use_cpu", "debug", "ec2_instance_type",
        "iam_role_name", "image_uri", "profile", "region", "num_machines", "gpu_ids", "base_job_name",
        "pytorch_version", "transformers_version", "py_version", "sagemaker_inputs_file", "sagemaker_metrics_file",
        "additional_args", "dynamo_config", "enable_cpu_affinity"};
    return f;
}

}  // namespace

const std::vector<std::string>& cluster_config_fields() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const auto& f : field_defaults()) {
            n.emplace_back(f.name);
        }
        return n;
    }();
    return names;
}

Value cluster_config_defaults() {
    std::vector<std::pair<std::string, Value>> entries;
    for (const auto& f : field_defaults()) {
        entries.emplace_back(f.name, f.value);
    }
    return Value::map(std::move(entries));
}

const Value& ConfigFile::field(const std::string& name) const {
    static const Value k_none;
    const Value* v = fields.find(name);
    return v ? *v : k_none;
}

bool ConfigFile::is_local_machine() const {
    const Value& ce = field("compute_environment");
    return ce.is_string() && ce.as_string() == "LOCAL_MACHINE";
}

namespace {

// JSON writes characters beyond U+FFFF as a surrogate pair of \u escapes, which
// yaml-cpp rejects: put the character itself in their place.
std::string join_json_surrogates(std::string_view text) {
    static const std::regex pair_re(R"(\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2}))");
    std::string out;
    std::string input(text);
    auto begin = std::sregex_iterator(input.begin(), input.end(), pair_re);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        size_t pos = static_cast<size_t>(it->position());
        size_t backslashes = 0;
        while (pos > backslashes && input[pos - 1 - backslashes] == '\\') {
            ++backslashes;
        }
        if (backslashes % 2 == 1) {
            continue;  // an escaped backslash followed by "u...", not an escape
        }
        unsigned hi = static_cast<unsigned>(std::stoul((*it)[1].str(), nullptr, 16));
        unsigned lo = static_cast<unsigned>(std::stoul((*it)[2].str(), nullptr, 16));
        unsigned cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        out += input.substr(last, pos - last);
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
        last = pos + static_cast<size_t>(it->length());
    }
    return out + input.substr(last);
}

// What PyYAML's reader refuses before parsing (upstream also opens the file as UTF-8):
// bytes that are not UTF-8, and characters YAML does not allow in a stream (control
// characters other than tab and line breaks, U+FFFE, U+FFFF). yaml-cpp takes all of them,
// and `config update` would write them back changed.
void check_text(std::string_view text, std::string_view origin, bool json) {
    size_t line = 1;
    size_t column = 1;
    for (size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 0;
        std::uint32_t cp = length == 1 ? byte : length == 2 ? byte & 0x1F : length == 3 ? byte & 0x0F : byte & 0x07;
        bool valid = length != 0 && i + length <= text.size();
        for (size_t k = 1; valid && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            valid = (next & 0xC0) == 0x80;
            cp = (cp << 6) | (next & 0x3F);
        }
        // Overlong forms and surrogates are not UTF-8 either.
        valid = valid && !(length == 2 && cp < 0x80) && !(length == 3 && cp < 0x800) &&
                !(length == 4 && (cp < 0x10000 || cp > 0x10FFFF)) && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (!valid) {
            throw ConfigError(fmt::format("{}:{}:{}: the file is not UTF-8 text (byte 0x{:02X}); save it as UTF-8",
                                          origin, line, column, byte));
        }
        // JSON (json.load) refuses only the C0 controls outside whitespace.
        const bool allowed = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) ||
                             (json && cp >= 0x7F) || cp == 0x85 || (cp >= 0xA0 && cp != 0xFFFE && cp != 0xFFFF);
        if (!allowed) {
            throw ConfigError(fmt::format("{}:{}:{}: the character U+{:04X} is not allowed in YAML; remove it",
                                          origin, line, column, cp));
        }
        if (cp == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
        i += length;
    }
}

// A line break that is a lone CR (old Mac files): PyYAML reads it as one, yaml-cpp does not.
std::string lone_cr_as_lf(std::string text) {
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) {
            text[i] = '\n';
        }
    }
    return text;
}

}  // namespace

Value parse_yaml(std::string_view text, std::string_view origin) {
    const bool json = origin.ends_with(".json");
    check_text(text, origin, json);
    // A UTF-8 byte-order mark: PyYAML skips it, json.load refuses it. yaml-cpp skips it too,
    // but its marks then count from after it; take it off so they index what we parsed.
    if (text.starts_with("\xEF\xBB\xBF")) {
        if (json) {
            throw ConfigError(fmt::format("{}: starts with a UTF-8 byte-order mark, which JSON does not allow; save it "
                                          "without one",
                                          origin));
        }
        text.remove_prefix(3);
    }
    const std::string parsed = lone_cr_as_lf(json ? join_json_surrogates(text) : std::string(text));
    try {
        std::vector<YAML::Node> documents = YAML::LoadAll(parsed);
        if (documents.size() > 1) {
            throw ConfigError(fmt::format("{}: holds {} YAML documents (separated by `---`); a config file is one",
                                          origin, documents.size()));
        }
        Conversion c{origin, json, parsed};
        return documents.empty() ? Value::none() : convert(documents.front(), c);
    } catch (const YAML::Exception& e) {
        throw ConfigError(fmt::format("{}: invalid {}: {}", where(e.mark, origin), json ? "JSON" : "YAML", e.msg));
    }
}

ConfigFile make_config(Value data, const std::string& path) {
    if (data.is_none()) {
        throw ConfigError(fmt::format("the config file {} is empty; run `accelerate config` to write one", path));
    }
    if (!data.is_map()) {
        throw ConfigError(fmt::format("the config file {} must be a mapping of keys to values", path));
    }
    std::vector<std::pair<std::string, Value>> entries = data.entries();
    auto has = [&](const std::string& k) { return data.find(k) != nullptr; };
    auto put = [&](const std::string& k, Value v) {
        for (auto& [key, existing] : entries) {
            if (key == k) {
                existing = std::move(v);
                return;
            }
        }
        entries.emplace_back(k, std::move(v));
    };
    auto erase = [&](const std::string& k) {
        std::erase_if(entries, [&](const auto& kv) { return kv.first == k; });
    };
    if (!has("compute_environment")) {
        put("compute_environment", Value::string("LOCAL_MACHINE"));
    }
    if (!has("distributed_type")) {
        throw ConfigError(fmt::format("A `distributed_type` must be specified in the config file ({}).", path));
    }
    // An unquoted NO / no loads as False (upstream then crashes); read them as meant.
    const Value* dt = data.find("distributed_type");
    if (dt->kind() == Value::Kind::boolean && !dt->as_bool()) {
        put("distributed_type", Value::string("NO"));
    }
    const Value* mp = data.find("mixed_precision");
    if (mp && mp->kind() == Value::Kind::boolean && !mp->as_bool()) {
        put("mixed_precision", Value::string("no"));
    }
    const Value dt_now = *Value::map(entries).find("distributed_type");
    if (!has("num_processes") && dt_now.is_string() && dt_now.as_string() == "NO") {
        put("num_processes", Value::integer(1));
    }
    if (!has("mixed_precision")) {
        const Value* fp16 = data.find("fp16");
        put("mixed_precision", fp16 && fp16->truthy() ? Value::string("fp16") : Value::none());
    }
    erase("fp16");
    if (const Value* legacy = data.find("dynamo_backend")) {
        Value dynamo = legacy->is_string() && legacy->as_string() == "NO"
                           ? Value::map({})
                           : Value::map({{"dynamo_backend", *legacy}});
        erase("dynamo_backend");
        put("dynamo_config", dynamo);
    }
    for (const char* k : {"use_cpu", "debug", "enable_cpu_affinity"}) {
        if (!Value::map(entries).find(k)) {
            put(k, Value::boolean(false));
        }
    }

    Value processed = Value::map(entries);
    const Value* ce = processed.find("compute_environment");
    bool local = ce && ce->is_string() && ce->as_string() == "LOCAL_MACHINE";
    std::vector<std::string> unknown;
    for (const auto& [k, v] : entries) {
        bool known = local ? std::find(cluster_config_fields().begin(), cluster_config_fields().end(), k) !=
                                 cluster_config_fields().end()
                           : sagemaker_fields().count(k) != 0;
        if (!known) {
            unknown.push_back(Value::string(k).repr());
        }
    }
    if (!unknown.empty()) {
        std::sort(unknown.begin(), unknown.end());
        std::string msg = fmt::format(
            "The config file at {} had unknown keys ([{}]), please try upgrading your `accelerate` version or fix "
            "(and potentially remove) these keys from your config file.",
            path, join(unknown, ", "));
        if (!local) {
            // Every key of a machine's config is "unknown" to a SageMaker one: say why this
            // one was read as such, not which machine key the name is closest to.
            msg += fmt::format(
                " Its compute_environment is {}, so it was read as an Amazon SageMaker config; for this machine "
                "write `compute_environment: LOCAL_MACHINE` (exactly so).",
                ce ? ce->repr() : std::string("missing"));
        } else if (unknown.size() == 1) {
            std::string bare = unknown[0].substr(1, unknown[0].size() - 2);
            if (auto guess = closest_match(bare, cluster_config_fields())) {
                msg += fmt::format(" Did you mean '{}'?", *guess);
            }
        }
        throw ConfigError(msg);
    }

    for (const char* k : {"num_processes", "num_machines", "machine_rank", "main_process_port"}) {
        const Value* v = processed.find(k);
        if (v && !v->is_none() && v->kind() != Value::Kind::integer) {
            throw ConfigError(fmt::format("{}: {} must be an integer, not {}", path, k, v->repr()));
        }
    }

    // Upstream fails deep inside on these (a traceback); passed on as they are, they would
    // reach the workers broken: CUDA_VISIBLE_DEVICES='[0, 1]' hides every GPU.
    if (const Value* v = processed.find("gpu_ids");
        v && !v->is_none() && !v->is_string() && v->kind() != Value::Kind::integer) {
        throw ConfigError(fmt::format("{}: gpu_ids must be 'all' or GPU ids separated by commas, such as '0,1', not {}",
                                      path, v->repr()));
    }
    if (const Value* v = processed.find("main_process_ip"); v && !v->is_none() && !v->is_string()) {
        throw ConfigError(
            fmt::format("{}: main_process_ip must be a host name or an IP address, not {}", path, v->repr()));
    }

    ConfigFile cfg;
    cfg.path = path;
    std::vector<std::pair<std::string, Value>> fields;
    for (const auto& f : field_defaults()) {
        const Value* v = processed.find(f.name);
        fields.emplace_back(f.name, v ? *v : f.value);
    }
    for (const auto& [k, v] : entries) {  // SageMaker-only keys stay visible
        if (!Value::map(fields).find(k)) {
            fields.emplace_back(k, v);
        }
    }
    for (const auto& [k, v] : entries) {
        cfg.keys_in_file.push_back(k);
    }
    cfg.fields = Value::map(std::move(fields));
    return cfg;
}

ConfigFile load_config_file(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        throw ConfigError(fmt::format(
            "The passed configuration file `{}` does not exist. Please pass an existing file to `accelerate launch`, "
            "or use the default one created through `accelerate config` and run `accelerate launch` without the "
            "`--config_file` argument.",
            path));
    }
    if (S_ISDIR(st.st_mode)) {
        throw ConfigError(fmt::format("--config_file {} is a folder; pass the YAML or JSON file in it", path));
    }
    // Upstream reads only a regular file (os.path.isfile); reading a FIFO would wait for a
    // writer forever, and a device such as /dev/zero never ends.
    if (!S_ISREG(st.st_mode)) {
        throw ConfigError(fmt::format("the config file {} is not a regular file (a pipe or a device); pass the YAML "
                                      "or JSON file itself",
                                      path));
    }
    constexpr off_t k_max_size = 16 << 20;  // a config is a few KiB
    if (st.st_size > k_max_size) {
        throw ConfigError(fmt::format("the config file {} is {} MiB, too large for a config file ({} MiB at most); "
                                      "check the path",
                                      path, st.st_size >> 20, k_max_size >> 20));
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw ConfigError(fmt::format("cannot read the config file {}: {}", path, std::strerror(errno)));
    }
    std::stringstream buf;
    buf << in.rdbuf();
    return make_config(parse_yaml(buf.str(), path), path);
}

std::string config_folder(const Environment& env) {
    auto expand = [&](std::string p) {
        if (!p.empty() && p[0] == '~' && (p.size() == 1 || p[1] == '/')) {
            p = env.get("HOME").value_or("") + p.substr(1);
        }
        return p;
    };
    if (auto hf = env.get_nonempty("HF_HOME")) {
        return expand(*hf) + "/accelerate";
    }
    std::string cache = env.get_nonempty("XDG_CACHE_HOME").value_or("~/.cache");
    return expand(cache + "/huggingface") + "/accelerate";
}

std::string default_config_path(const Environment& env) {
    return config_folder(env) + "/default_config.yaml";
}

}  // namespace acc::config
