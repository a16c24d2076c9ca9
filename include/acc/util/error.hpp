// Error types reported to the user; what() is the finished one-line message.
#pragma once

#include <stdexcept>
#include <string>

namespace acc {

// Base of every error we report; exit status 1.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Bad command line (argparse's territory upstream): exit status 2.
class UsageError : public Error {
  public:
    using Error::Error;
};

// Missing or invalid config file: exit status 1.
class ConfigError : public Error {
  public:
    using Error::Error;
};

}  // namespace acc
