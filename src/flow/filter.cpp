#include "flow/filter.hpp"

#include <charconv>
#include <vector>

namespace omamori {

struct FlowFilter::Node {
  enum Kind { And, Or, Not, Host, Net, Port, As, Proto, Exporter, Packets, Bytes, Sampling, Flags, InIf, OutIf, Family };
  enum Dir { Either, Src, Dst };
  enum Op { Eq, Ne, Lt, Le, Gt, Ge };
  Kind kind;
  Dir dir = Either;
  Op op = Eq;
  uint64_t num = 0;
  Prefix net;
  std::unique_ptr<Node> a, b;
};

namespace {

using Node = FlowFilter::Node;

bool cmp(uint64_t v, Node::Op op, uint64_t n) {
  switch (op) {
    case Node::Eq: return v == n;
    case Node::Ne: return v != n;
    case Node::Lt: return v < n;
    case Node::Le: return v <= n;
    case Node::Gt: return v > n;
    case Node::Ge: return v >= n;
  }
  return false;
}

bool eval(const Node& n, const FlowRecord& r) {
  auto either = [&](auto test_src, auto test_dst) {
    switch (n.dir) {
      case Node::Src: return test_src();
      case Node::Dst: return test_dst();
      default: return test_src() || test_dst();
    }
  };
  switch (n.kind) {
    case Node::And: return eval(*n.a, r) && eval(*n.b, r);
    case Node::Or: return eval(*n.a, r) || eval(*n.b, r);
    case Node::Not: return !eval(*n.a, r);
    case Node::Host:
    case Node::Net:
      return either([&] { return n.net.contains(r.src); }, [&] { return n.net.contains(r.dst); });
    case Node::Port: return either([&] { return r.sport == n.num; }, [&] { return r.dport == n.num; });
    case Node::As: return either([&] { return r.src_as == n.num; }, [&] { return r.dst_as == n.num; });
    case Node::Proto: return r.proto == n.num;
    case Node::Exporter: return n.net.contains(r.exporter);
    case Node::Packets: return cmp(r.packets, n.op, n.num);
    case Node::Bytes: return cmp(r.bytes, n.op, n.num);
    case Node::Sampling: return cmp(r.sampling_rate, n.op, n.num);
    case Node::Flags: return (r.tcp_flags & n.num) == n.num;
    case Node::InIf: return r.in_if == n.num;
    case Node::OutIf: return r.out_if == n.num;
    case Node::Family: return r.src.is_v4() == (n.num == 4);
  }
  return false;
}

class Parser {
 public:
  explicit Parser(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == ' ' || c == '\t' || c == '\n') {
        ++i;
      } else if (c == '(' || c == ')') {
        toks_.push_back({std::string(1, c), i});
        ++i;
      } else if (c == '<' || c == '>' || c == '=' || c == '!') {
        size_t j = i + 1;
        if (j < s.size() && s[j] == '=') ++j;
        toks_.push_back({std::string(s.substr(i, j - i)), i});
        i = j;
      } else {
        size_t j = i;
        while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '(' && s[j] != ')' && s[j] != '<' &&
               s[j] != '>' && s[j] != '=' && s[j] != '!')
          ++j;
        toks_.push_back({std::string(s.substr(i, j - i)), i});
        i = j;
      }
    }
  }

  std::unique_ptr<Node> parse(std::string& err) {
    if (toks_.empty()) return nullptr;
    auto n = parse_or();
    if (n && pos_ < toks_.size()) fail("unexpected '" + toks_[pos_].text + "'");
    if (!err_.empty()) {
      err = err_;
      return nullptr;
    }
    return n;
  }

 private:
  struct Tok {
    std::string text;
    size_t at;
  };

  bool peek(std::string_view w) const { return pos_ < toks_.size() && toks_[pos_].text == w; }
  void fail(const std::string& m) {
    if (err_.empty()) {
      size_t at = pos_ < toks_.size() ? toks_[pos_].at : (toks_.empty() ? 0 : toks_.back().at);
      err_ = "filter: " + m + " at offset " + std::to_string(at);
    }
  }
  std::string next() { return pos_ < toks_.size() ? toks_[pos_++].text : std::string(); }

  static std::unique_ptr<Node> bin(Node::Kind k, std::unique_ptr<Node> a, std::unique_ptr<Node> b) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }

  std::unique_ptr<Node> parse_or() {
    auto l = parse_and();
    while (l && peek("or")) {
      ++pos_;
      auto r = parse_and();
      if (!r) return nullptr;
      l = bin(Node::Or, std::move(l), std::move(r));
    }
    return l;
  }
  std::unique_ptr<Node> parse_and() {
    auto l = parse_not();
    while (l && pos_ < toks_.size() && !peek("or") && !peek(")")) {
      if (peek("and")) ++pos_;
      auto r = parse_not();
      if (!r) return nullptr;
      l = bin(Node::And, std::move(l), std::move(r));
    }
    return l;
  }
  std::unique_ptr<Node> parse_not() {
    if (peek("not")) {
      ++pos_;
      auto a = parse_not();
      if (!a) return nullptr;
      return bin(Node::Not, std::move(a), nullptr);
    }
    if (peek("(")) {
      ++pos_;
      auto e = parse_or();
      if (!e) return nullptr;
      if (!peek(")")) {
        fail("missing ')'");
        return nullptr;
      }
      ++pos_;
      return e;
    }
    return parse_term();
  }

  bool number(const std::string& s, uint64_t& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
      fail("expected a number, got '" + s + "'");
      return false;
    }
    return true;
  }

  std::unique_ptr<Node> parse_term() {
    auto n = std::make_unique<Node>();
    if (peek("src")) {
      n->dir = Node::Src;
      ++pos_;
    } else if (peek("dst")) {
      n->dir = Node::Dst;
      ++pos_;
    }
    std::string w = next();
    if (w.empty()) {
      fail("expression ends early");
      return nullptr;
    }
    if (w == "host" || w == "net" || w == "exporter") {
      std::string v = next();
      auto p = Prefix::parse(v);
      if (!p || (w != "net" && v.find('/') != std::string::npos)) {
        fail("expected an address" + std::string(w == "net" ? " prefix" : "") + ", got '" + v + "'");
        return nullptr;
      }
      n->kind = w == "exporter" ? Node::Exporter : (w == "host" ? Node::Host : Node::Net);
      n->net = *p;
      return n;
    }
    if (w == "port" || w == "as" || w == "in_if" || w == "out_if") {
      n->kind = w == "port" ? Node::Port : w == "as" ? Node::As : w == "in_if" ? Node::InIf : Node::OutIf;
      if (!number(next(), n->num)) return nullptr;
      return n;
    }
    if (w == "proto") {
      static const std::pair<const char*, int> kNames[] = {{"icmp", 1},  {"tcp", 6},  {"udp", 17}, {"gre", 47},
                                                           {"esp", 50},  {"icmp6", 58}, {"sctp", 132}};
      std::string v = next();
      n->kind = Node::Proto;
      for (auto& [name, num] : kNames)
        if (v == name) {
          n->num = static_cast<uint64_t>(num);
          return n;
        }
      if (!number(v, n->num)) return nullptr;
      return n;
    }
    if (w == "packets" || w == "bytes" || w == "sampling") {
      n->kind = w == "packets" ? Node::Packets : w == "bytes" ? Node::Bytes : Node::Sampling;
      std::string op = next();
      if (op == "=" || op == "==") n->op = Node::Eq;
      else if (op == "!=") n->op = Node::Ne;
      else if (op == "<") n->op = Node::Lt;
      else if (op == "<=") n->op = Node::Le;
      else if (op == ">") n->op = Node::Gt;
      else if (op == ">=") n->op = Node::Ge;
      else {
        fail("expected a comparison after '" + w + "'");
        return nullptr;
      }
      if (!number(next(), n->num)) return nullptr;
      return n;
    }
    if (w == "flags") {
      n->kind = Node::Flags;
      std::string v = next();
      static const char kF[] = "FSRPAUEC";
      for (char c : v) {
        const char* p = std::char_traits<char>::find(kF, 8, c);
        if (!p) {
          fail(std::string("unknown TCP flag '") + c + "'");
          return nullptr;
        }
        n->num |= 1u << (p - kF);
      }
      if (v.empty()) fail("expected TCP flags");
      return n;
    }
    if (w == "ipv4" || w == "inet" || w == "ipv6" || w == "inet6") {
      n->kind = Node::Family;
      n->num = (w == "ipv4" || w == "inet") ? 4 : 6;
      return n;
    }
    --pos_;
    fail("unknown term '" + w + "'");
    return nullptr;
  }

  std::vector<Tok> toks_;
  size_t pos_ = 0;
  std::string err_;
};

}  // namespace

FlowFilter::~FlowFilter() = default;

std::unique_ptr<FlowFilter> FlowFilter::compile(std::string_view expr, std::string& err) {
  Parser p(expr);
  std::string e;
  auto root = p.parse(e);
  if (!e.empty()) {
    err = e;
    return nullptr;
  }
  std::unique_ptr<FlowFilter> f(new FlowFilter());
  f->root_ = std::move(root);
  return f;
}

bool FlowFilter::matches(const FlowRecord& r) const { return !root_ || eval(*root_, r); }

}  // namespace omamori
