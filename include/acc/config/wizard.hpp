// upstream's `accelerate config` questionnaire (commands/config/cluster.py, sagemaker.py) as pure logic:
// every question goes through a Prompter, so a terminal, a pipe or a test can answer it.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "acc/util/environment.hpp"
#include "acc/util/value.hpp"

namespace acc::config {

// The input ended (EOF) before the wizard finished.
class InputEnded : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// How the wizard talks to the person answering.
class Prompter {
  public:
    virtual ~Prompter() = default;
    // A bullet menu: returns an index in [0, choices.size()). Invalid answers are the prompter's to re-ask.
    virtual int menu(const std::string& prompt, const std::vector<std::string>& choices, int default_index) = 0;
    // One line of free text for `prompt` (without its line end). Throws InputEnded at end of input.
    virtual std::string field(const std::string& prompt) = 0;
    // A message line (upstream's print()).
    virtual void say(const std::string& text) = 0;
};

struct WizardContext {
    Environment env;  // HOME for ~ in the mpirun hostfile
    std::string cwd;  // for the TPU command file's absolute path
    // A user's home folder, for ~user (the password database; "" is the current user's,
    // for ~ without HOME); none: ~user stays as typed.
    std::function<std::optional<std::string>(const std::string& user)> user_home;
};

// Ask every question upstream asks, in its order, and return the config as
// upstream's ClusterConfig / SageMakerConfig holds it (every field, in
// declaration order; pass it through to_dict() before writing).
// Throws acc::ConfigError where upstream refuses the answers (e.g. multi-GPU with one GPU).
Value run_wizard(Prompter& prompter, const WizardContext& context);

// The converters behind upstream's fields, exposed for tests.
std::optional<bool> parse_yes_no(const std::string& answer);  // "yes"/"no" in any case, nothing else

}  // namespace acc::config
