#include "sender/lint/dhcpd_conf.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fleetcast::sender::lint {
namespace {

struct Token {
  enum class Kind { word, string, open, close, semicolon, end } kind = Kind::end;
  std::string text;
  int line = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}
  Token next() {
    skip_blanks();
    Token t;
    t.line = line_;
    if (pos_ >= text_.size()) return t;
    const char c = text_[pos_];
    if (c == '{' || c == '}' || c == ';') {
      ++pos_;
      t.kind = c == '{'   ? Token::Kind::open
               : c == '}' ? Token::Kind::close
                          : Token::Kind::semicolon;
      t.text = std::string(1, c);
      return t;
    }
    if (c == '"') {
      ++pos_;
      t.kind = Token::Kind::string;
      while (pos_ < text_.size() && text_[pos_] != '"') {
        if (text_[pos_] == '\n') ++line_;
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        t.text += text_[pos_++];
      }
      if (pos_ >= text_.size())
        throw DhcpdConfError("line " + std::to_string(t.line) + ": unclosed string");
      ++pos_;
      return t;
    }
    t.kind = Token::Kind::word;
    while (pos_ < text_.size()) {
      const char d = text_[pos_];
      if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == '{' || d == '}' || d == ';' ||
          d == '"' || d == '#') {
        break;
      }
      t.text += d;
      ++pos_;
    }
    return t;
  }

 private:
  void skip_blanks() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }
  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

// A statement: its words (strings unquoted), and its block when it has one.
struct Statement {
  std::vector<std::string> words;
  std::optional<std::vector<Statement>> block;
  int line = 0;
};

std::vector<Statement> parse_block(Lexer& lex, bool nested, int opened_at) {
  std::vector<Statement> out;
  Statement s;
  for (;;) {
    Token t = lex.next();
    if (s.words.empty()) s.line = t.line;
    switch (t.kind) {
      case Token::Kind::end:
        if (!s.words.empty()) {
          throw DhcpdConfError("line " + std::to_string(s.line) + ": '" + s.words.front() +
                               "' statement without its ';'");
        }
        if (nested) {
          throw DhcpdConfError("line " + std::to_string(opened_at) + ": block never closed");
        }
        return out;
      case Token::Kind::close:
        if (!nested) throw DhcpdConfError("line " + std::to_string(t.line) + ": '}' without '{'");
        if (!s.words.empty()) {
          throw DhcpdConfError("line " + std::to_string(s.line) + ": '" + s.words.front() +
                               "' statement without its ';'");
        }
        return out;
      case Token::Kind::semicolon:
        if (!s.words.empty()) out.push_back(std::move(s));
        s = Statement{};
        break;
      case Token::Kind::open:
        s.block = parse_block(lex, true, t.line);
        out.push_back(std::move(s));
        s = Statement{};
        break;
      case Token::Kind::word:
      case Token::Kind::string:
        s.words.push_back(std::move(t.text));
        break;
    }
  }
}

int prefix_of(std::uint32_t mask) {
  int n = 0;
  while (n < 32 && (mask & (0x80000000u >> n))) ++n;
  return n;
}

std::string where(int line) {
  return "line " + std::to_string(line) + ": ";
}

void walk(const std::vector<Statement>& block, const std::string& subnet, const std::string& peer,
          bool retired, ServerModel& m) {
  for (const Statement& s : block) {
    const auto& w = s.words;
    if (w.empty()) continue;
    if (w[0] == "subnet" && s.block) {
      std::uint32_t net = 0, mask = 0;
      if (w.size() != 4 || w[2] != "netmask" || !parse_ipv4(w[1], net) || !parse_ipv4(w[3], mask)) {
        throw DhcpdConfError(where(s.line) + "expected 'subnet ADDRESS netmask MASK {'");
      }
      walk(*s.block, format_ipv4(net) + "/" + std::to_string(prefix_of(mask)), peer, retired, m);
    } else if (w[0] == "pool" && s.block) {
      std::string pool_peer = peer;
      bool pool_retired = retired;
      for (const Statement& c : *s.block) {
        if (c.words.size() == 3 && c.words[0] == "failover" && c.words[1] == "peer")
          pool_peer = c.words[2];
        if (c.words.size() == 3 && c.words[0] == "deny" && c.words[1] == "all" &&
            c.words[2] == "clients") {
          pool_retired = true;
        }
      }
      walk(*s.block, subnet, pool_peer, pool_retired, m);
    } else if ((w[0] == "shared-network" || w[0] == "group") && s.block) {
      walk(*s.block, subnet, peer, retired, m);
    } else if (w[0] == "failover" && w.size() == 3 && w[1] == "peer" && s.block) {
      FailoverPeer f;
      f.name = w[2];
      f.line = s.line;
      for (const Statement& c : *s.block) {
        if (c.words.empty()) continue;
        if (c.words[0] == "primary" || c.words[0] == "secondary") f.role = c.words[0];
        if (c.words[0] == "mclt") f.mclt = true;
        if (c.words[0] == "split") f.split = true;
        if (c.words[0] == "hba") f.hba = true;
      }
      m.peers.push_back(std::move(f));
    } else if (w[0] == "range") {
      std::size_t i = 1;
      if (i < w.size() && w[i] == "dynamic-bootp") ++i;
      Range r;
      if (i >= w.size() || w.size() > i + 2 || !parse_ipv4(w[i], r.low) ||
          !parse_ipv4(w[i + 1 < w.size() ? i + 1 : i], r.high) || r.high < r.low) {
        throw DhcpdConfError(where(s.line) + "expected 'range LOW [HIGH];'");
      }
      if (subnet.empty()) throw DhcpdConfError(where(s.line) + "a range outside any subnet");
      r.subnet = subnet;
      r.failover_peer = peer;
      r.retired = retired;
      r.line = s.line;
      m.ranges.push_back(r);
    } else if (w[0] == "include") {
      m.notes.push_back(where(s.line) + "include \"" + (w.size() > 1 ? w[1] : "") +
                        "\" is not followed (a file of the host, not of the bundle)");
    }
  }
}

}  // namespace

ServerModel parse_dhcpd_conf(std::string_view text) {
  Lexer lex(text);
  const auto top = parse_block(lex, false, 0);
  ServerModel m;
  walk(top, "", "", false, m);
  return m;
}

}  // namespace fleetcast::sender::lint
