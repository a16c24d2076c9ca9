// Writing config files the way upstream's BaseConfig.to_yaml_file / to_json_file do.
#pragma once

#include <string>

#include "acc/util/value.hpp"

namespace acc::config {

// upstream's BaseConfig.to_dict(): dicts empty at any depth become None, then
// top-level None values are dropped. Order is kept (writers sort).
Value to_dict(const Value& fields);

// yaml.safe_dump(d): sorted keys, block style, PyYAML's quoting and folding at 80 columns.
std::string to_yaml(const Value& data);

// json.dumps(d, indent=2, sort_keys=True) + "\n" (ensure_ascii, Python float repr).
std::string to_json(const Value& data);

// Would PyYAML's SafeLoader read `text`, written plain, as a string? ("no" -> bool, "0" -> int: false.)
bool plain_scalar_is_string(const std::string& text);

// YAML for a path ending in ".json" (exactly) is JSON, everything else is YAML.
bool is_json_path(const std::string& path);

// pathlib.Path(p) printed: repeated and trailing slashes and "." parts removed.
std::string python_path_str(const std::string& path);

}  // namespace acc::config
