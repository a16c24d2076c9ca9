// The two ways the config wizard reads answers: an arrow-key menu on a terminal
// (upstream's BulletMenu), or one line per question from a pipe or file.
#pragma once

#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include "acc/config/wizard.hpp"

namespace acc::cli {

// Ctrl-C (or SIGTERM / SIGHUP) arrived while the wizard waited for input.
class Interrupted : public std::runtime_error {
  public:
    explicit Interrupted(int signo) : std::runtime_error("interrupted"), signal(signo) {}
    int signal;
};

// While alive, SIGINT/SIGTERM/SIGHUP interrupt a blocked read (no SA_RESTART)
// and the prompters turn them into Interrupted, so the terminal is restored and
// nothing is written.
class InterruptGuard {
  public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

  private:
    struct sigaction m_old[3] {};
};

// stdin is a terminal: menus read keys (arrows, digits, Enter) with the
// terminal in non-canonical mode; fields are read as lines, prompts go where
// Python's input() puts them.
class TerminalPrompter : public config::Prompter {
  public:
    TerminalPrompter();
    int menu(const std::string& prompt, const std::vector<std::string>& choices, int default_index) override;
    std::string field(const std::string& prompt) override;
    void say(const std::string& text) override;

  private:
    int m_width;
};

// stdin is not a terminal: one line per question; a menu takes its index, a
// field its text; an empty line takes the default. Answers are echoed.
class LinePrompter : public config::Prompter {
  public:
    int menu(const std::string& prompt, const std::vector<std::string>& choices, int default_index) override;
    std::string field(const std::string& prompt) override;
    void say(const std::string& text) override;
};

// shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80.
int terminal_width();

}  // namespace acc::cli
