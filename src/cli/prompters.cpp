#include "acc/cli/prompters.hpp"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "acc/util/error.hpp"
#include "acc/util/strings.hpp"

namespace acc::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;

void on_signal(int signo) { g_signal = signo; }

const int k_signals[3] = {SIGINT, SIGTERM, SIGHUP};

void write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        ssize_t n = ::write(fd, s.data(), s.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;  // the terminal went away; nothing useful to do
        }
        s.remove_prefix(static_cast<size_t>(n));
    }
}

void out(std::string_view s) { write_all(STDOUT_FILENO, s); }

// One byte of stdin; -1 at end of input. Throws Interrupted when a signal came.
int read_byte() {
    while (true) {
        if (g_signal) {
            throw Interrupted(g_signal);
        }
        unsigned char c = 0;
        ssize_t n = ::read(STDIN_FILENO, &c, 1);
        if (n == 1) {
            return c;
        }
        if (n == 0) {
            return -1;
        }
        if (errno != EINTR) {
            throw Error(fmt::format("cannot read the answer from standard input: {}", std::strerror(errno)));
        }
    }
}

// A line without its end ("\n", "\r\n"); nullopt at end of input with nothing read.
std::optional<std::string> read_line() {
    std::string line;
    while (true) {
        int c = read_byte();
        if (c < 0) {
            if (line.empty()) {
                return std::nullopt;
            }
            break;
        }
        if (c == '\n') {
            break;
        }
        line += static_cast<char>(c);
    }
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return line;
}

// Input side of tty.setraw (no echo, no line editing, no signals from keys);
// output processing stays on, as it is while upstream's menu draws.
class KeyMode {
  public:
    KeyMode() {
        if (tcgetattr(STDIN_FILENO, &m_saved) != 0) {
            throw Error("cannot read the terminal's settings for the menu; pipe the answers in instead (one per line)");
        }
        termios raw = m_saved;
        raw.c_iflag &= ~static_cast<tcflag_t>(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
        raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | IEXTEN | ISIG);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
    }
    ~KeyMode() { tcsetattr(STDIN_FILENO, TCSADRAIN, &m_saved); }
    KeyMode(const KeyMode&) = delete;
    KeyMode& operator=(const KeyMode&) = delete;

  private:
    termios m_saved {};
};

const char* const k_green = "\x1b[32m";
const char* const k_reset = "\x1b[0m";

}  // namespace

InterruptGuard::InterruptGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR
    for (int i = 0; i < 3; ++i) {
        sigaction(k_signals[i], &sa, &m_old[i]);
    }
}

InterruptGuard::~InterruptGuard() {
    for (int i = 0; i < 3; ++i) {
        sigaction(k_signals[i], &m_old[i], nullptr);
    }
}

int terminal_width() {
    if (const char* c = std::getenv("COLUMNS")) {
        if (auto v = parse_python_int(c); v && *v > 0 && *v < 10000) {
            return static_cast<int>(*v);
        }
    }
    winsize ws {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 80;
}

TerminalPrompter::TerminalPrompter() : m_width(terminal_width()) {}

int TerminalPrompter::menu(const std::string& prompt, const std::vector<std::string>& choices, int default_index) {
    const int n = static_cast<int>(choices.size());
    int position = default_index;
    const std::string blank(static_cast<size_t>(m_width), ' ');
    auto row = [&](int i) {
        if (i == position) {
            return fmt::format(" \xE2\x9E\x94  {}{}{}\r", k_green, choices[static_cast<size_t>(i)], k_reset);
        }
        return fmt::format("    {}\r", choices[static_cast<size_t>(i)]);
    };
    std::string frame;
    if (!prompt.empty()) {
        frame += "\r" + std::string(static_cast<size_t>(m_width), '-') + prompt + "\n";
        frame += "Please select a choice using the arrow or number keys, and selecting with enter\n";
    }
    for (int i = 0; i < n; ++i) {
        frame += row(i) + "\n";
    }
    frame += fmt::format("\x1b[{}A\x1b[?25l", n - position);
    out(frame);

    struct ShowCursor {
        ~ShowCursor() { out("\x1b[?25h"); }
    } show_cursor;
    KeyMode keys;
    auto move_to = [&](int target) {
        if (target == position || target < 0 || target >= n) {
            return;
        }
        int old = position;
        position = target;
        std::string s = blank + "\r";
        int saved = position;
        position = -1;
        s += row(old);
        position = saved;
        s += target < old ? fmt::format("\x1b[{}A", old - target) : fmt::format("\x1b[{}B", target - old);
        s += row(position);
        out(s);
    };
    while (true) {
        int c = 0;
        try {
            c = read_byte();
        } catch (const Interrupted&) {
            out(fmt::format("\x1b[{}B\r\n", n - position));
            throw;
        }
        if (c < 0) {
            out(fmt::format("\x1b[{}B\r\n", n - position));
            throw config::InputEnded(prompt);
        }
        if (c == 0x03) {  // Ctrl-C arrives as a byte while keys are read raw
            out(fmt::format("\x1b[{}B\r\n", n - position));
            throw Interrupted(SIGINT);
        }
        if (c == 0x1b) {
            int next = read_byte();
            if (next == '[') {
                int key = read_byte();
                if (key == 'A') {
                    move_to(position - 1);
                } else if (key == 'B') {
                    move_to(position + 1);
                }
                continue;
            }
            c = read_byte();  // upstream treats the byte after ESC+x as the key
        }
        if (c >= '0' && c <= '9') {
            move_to(c - '0');
        } else if (c == '\r' || c == '\n') {
            std::string s = fmt::format("\x1b[{}B\r", n - position);
            for (int i = 0; i < n + 1; ++i) {
                s += "\x1b[1A" + blank + "\r";
            }
            s += fmt::format("{}{}{}\n", k_green, choices[static_cast<size_t>(position)], k_reset);
            out(s);
            return position;
        }
    }
}

std::string TerminalPrompter::field(const std::string& prompt) {
    // Python's input() writes its prompt to stderr when stdin and stdout are both terminals.
    write_all(isatty(STDOUT_FILENO) ? STDERR_FILENO : STDOUT_FILENO, prompt);
    auto line = read_line();
    if (!line) {
        out("\n");
        throw config::InputEnded(prompt);
    }
    return *line;
}

void TerminalPrompter::say(const std::string& text) { out(text + "\n"); }

int LinePrompter::menu(const std::string& prompt, const std::vector<std::string>& choices, int default_index) {
    const int n = static_cast<int>(choices.size());
    std::string text = prompt + "\n";
    for (int i = 0; i < n; ++i) {
        text += fmt::format("  {}: {}{}\n", i, choices[static_cast<size_t>(i)], i == default_index ? " (default)" : "");
    }
    out(text);
    while (true) {
        out(fmt::format("Choice index [{}]: ", default_index));
        auto line = read_line();
        if (!line) {
            out("\n");
            throw config::InputEnded(prompt);
        }
        out(*line + "\n");
        if (trim(*line).empty()) {
            return default_index;
        }
        if (auto v = parse_python_int(*line); v && *v >= 0 && *v < n) {
            return static_cast<int>(*v);
        }
        out(fmt::format("Please enter a choice index from 0 to {} (or an empty line for {}).\n", n - 1,
                        default_index));
    }
}

std::string LinePrompter::field(const std::string& prompt) {
    out(prompt);
    auto line = read_line();
    if (!line) {
        out("\n");
        throw config::InputEnded(prompt);
    }
    out(*line + "\n");
    return *line;
}

void LinePrompter::say(const std::string& text) { out(text + "\n"); }

}  // namespace acc::cli
