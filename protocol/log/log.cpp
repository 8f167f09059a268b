#include "protocol/log/log.hpp"
#include "protocol/io/clock.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace fleetcast::log {
namespace {

struct State {
  std::mutex mutex;
  Config config;
  bool journal = false;  // standard error is journald's stream
  bool opened = false;   // openlog() done
};
State& state() {
  static State s;
  return s;
}

// JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected: is it standard error?
bool stderr_is_journal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

bool bare(std::string_view v) {
  if (v.empty()) return false;
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '"' || c == '=' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(Level level) {
  switch (level) {
    case Level::error:
      return "error";
    case Level::warning:
      return "warning";
    case Level::notice:
      return "notice";
    case Level::info:
      return "info";
    case Level::debug:
      return "debug";
  }
  return "info";
}

std::optional<Level> parse_level(std::string_view text) {
  for (const Level l : {Level::error, Level::warning, Level::notice, Level::info, Level::debug}) {
    if (text == to_string(l)) return l;
  }
  if (text == "warn") return Level::warning;
  return std::nullopt;
}

Event::Event(Level level, std::string_view id, std::string_view name)
    : level_(level), id_(id), name_(name) {}

Event& Event::with(std::string_view key, std::string_view value) {
  fields_.emplace_back(std::string(key), std::string(value));
  return *this;
}

Event& Event::with(std::string_view key, std::uint64_t value) {
  return with(key, std::to_string(value));
}

std::string Event::field(std::string_view key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) return v;
  }
  return {};
}

std::string quote(std::string_view value) {
  if (bare(value)) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < ' ' || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string Event::text() const {
  std::string out = id_;
  out += ' ';
  out += name_;
  for (const auto& [k, v] : fields_) {
    out += ' ';
    out += k;
    out += '=';
    out += quote(v);
  }
  return out;
}

void configure(const Config& config) {
  State& s = state();
  const std::lock_guard lock(s.mutex);
  s.config = config;
  s.journal = stderr_is_journal();
  if (config.syslog && !s.opened) {
    // openlog keeps the pointer: the ident must outlive every syslog() call.
    static std::string ident;
    ident = config.program;
    ::openlog(ident.c_str(), LOG_PID, LOG_DAEMON);
    s.opened = true;
  }
}

namespace {

// The standard error line of an event whose text() is `body`.
std::string line_of(Level level, std::string_view body, bool journal) {
  // The prefix is formatted in place (appending to an empty string trips GCC 12's -Wrestrict).
  char prefix[48];
  if (journal) {
    std::snprintf(prefix, sizeof prefix, "<%d>", static_cast<int>(level));
  } else {
    const auto t = static_cast<std::time_t>(protocol::io::wall_seconds());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const std::string_view name = to_string(level);
    std::snprintf(prefix, sizeof prefix, "%s %.*s ", stamp, static_cast<int>(name.size()),
                  name.data());
  }
  std::string out(prefix);
  out += body;
  out += '\n';
  return out;
}

}  // namespace

std::string line(const Event& event) {
  return line_of(event.level(), event.text(), state().journal);
}

void emit(const Event& event) {
  State& s = state();
  if (static_cast<int>(event.level()) > static_cast<int>(s.config.level)) return;
  const std::string body = event.text();  // once, for standard error and syslog
  const std::string text = line_of(event.level(), body, s.journal);
  const std::lock_guard lock(s.mutex);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to log: nothing else to do
    done += static_cast<std::size_t>(n);
  }
  if (s.config.syslog) ::syslog(static_cast<int>(event.level()), "%s", body.c_str());
}

}  // namespace fleetcast::log
