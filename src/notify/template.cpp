#include "notify/template.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "notify/text.hpp"

namespace omamori::notify {

TemplateError::TemplateError(const std::string& source, int l, int c, const std::string& what)
    : std::runtime_error(fmt::format("{}:{}:{}: {}", source, l, c, what)), line(l), column(c) {}

const std::string* Scope::find_string(std::string_view name) const {
  auto it = strings_.find(name);
  return it == strings_.end() ? nullptr : &it->second;
}

const std::vector<Scope>* Scope::find_list(std::string_view name) const {
  auto it = lists_.find(name);
  return it == lists_.end() ? nullptr : &it->second;
}

enum class NodeKind { Text, Var, Literal, If, Each };
enum class Op { Truthy, Eq, Ne };

struct Node {
  NodeKind kind = NodeKind::Text;
  std::string text;     // text, literal, variable / list / condition name
  std::string literal;  // comparison operand
  Op op = Op::Truthy;
  bool negate = false;  // #unless
  int line = 0, column = 0;
  std::vector<std::unique_ptr<Node>> body, other;
  bool in_other = false;  // parse state: after {{else}}
};

Template::Template() = default;
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

namespace {

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

class Parser {
 public:
  Parser(std::string_view text, const std::string& source, int first_line)
      : t_(text), source_(source), first_line_(first_line) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < t_.size(); ++i)
      if (t_[i] == '\n') line_starts_.push_back(i + 1);
  }

  [[noreturn]] void fail(size_t offset, const std::string& what) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line_index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    int col = static_cast<int>(offset - line_starts_[line_index]) + 1;
    throw TemplateError(source_, first_line_ + static_cast<int>(line_index), col, what);
  }
  std::pair<int, int> where(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t li = static_cast<size_t>(it - line_starts_.begin()) - 1;
    return {first_line_ + static_cast<int>(li), static_cast<int>(offset - line_starts_[li]) + 1};
  }

  std::vector<std::unique_ptr<Node>> run() {
    std::vector<std::unique_ptr<Node>> top;
    size_t pos = 0;
    std::string pending;  // text not yet emitted
    while (pos < t_.size()) {
      size_t open = t_.find("{{", pos);
      if (open == std::string_view::npos) {
        pending.append(t_.substr(pos));
        break;
      }
      size_t close = find_close(open);
      std::string_view inner = trim(t_.substr(open + 2, close - open - 2));
      bool block = !inner.empty() && (inner[0] == '#' || inner[0] == '/' || inner[0] == '!' || inner == "else");
      size_t after = close + 2;
      std::string_view before = t_.substr(pos, open - pos);
      if (block) {
        // Standalone: only blanks between the line start and the tag, and
        // between the tag and the line end.
        size_t ls = open;
        while (ls > 0 && is_blank(t_[ls - 1])) --ls;
        bool at_line_start = ls == 0 || t_[ls - 1] == '\n';
        size_t le = after;
        while (le < t_.size() && is_blank(t_[le])) ++le;
        bool at_line_end = le == t_.size() || t_[le] == '\n' || (t_[le] == '\r' && le + 1 < t_.size() && t_[le + 1] == '\n');
        if (at_line_start && at_line_end && ls >= pos) {
          before = t_.substr(pos, ls - pos);
          after = le == t_.size() ? le : (t_[le] == '\r' ? le + 2 : le + 1);
        }
      }
      pending.append(before);
      if (!pending.empty()) emit_text(top, std::move(pending));
      pending.clear();
      tag(top, inner, open);
      pos = after;
    }
    if (!pending.empty()) emit_text(top, std::move(pending));
    if (!stack_.empty()) {
      const Node* n = stack_.back();
      throw TemplateError(source_, n->line, n->column,
                          fmt::format("block {{{{#{}}}}} is not closed", n->kind == NodeKind::Each ? "each" : (n->negate ? "unless" : "if")));
    }
    return top;
  }

 private:
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (is_blank(s.front()) || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (is_blank(s.back()) || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  }

  // Offset of the "}}" closing the tag opened at `open` (quotes respected,
  // except in comments).
  size_t find_close(size_t open) const {
    size_t i = open + 2;
    bool comment = false;
    {
      size_t k = i;
      while (k < t_.size() && is_blank(t_[k])) ++k;
      comment = k < t_.size() && t_[k] == '!';
    }
    bool quoted = false;
    for (; i < t_.size(); ++i) {
      char c = t_[i];
      if (quoted) {
        if (c == '\\' && i + 1 < t_.size()) ++i;
        else if (c == '"') quoted = false;
        else if (c == '\n') fail(i, "string literal not closed on its line");
        continue;
      }
      if (c == '"' && !comment) quoted = true;
      else if (c == '}' && i + 1 < t_.size() && t_[i + 1] == '}') return i;
      else if (c == '{' && i + 1 < t_.size() && t_[i + 1] == '{' && !comment) fail(i, "'{{' inside a tag (missing '}}' before it?)");
    }
    fail(open, "tag is not closed with '}}'");
  }

  std::vector<std::unique_ptr<Node>>& container(std::vector<std::unique_ptr<Node>>& top) {
    if (stack_.empty()) return top;
    Node* n = stack_.back();
    return n->in_other ? n->other : n->body;
  }

  void emit_text(std::vector<std::unique_ptr<Node>>& top, std::string text) {
    auto n = std::make_unique<Node>();
    n->kind = NodeKind::Text;
    n->text = std::move(text);
    container(top).push_back(std::move(n));
  }

  // Reads a name at s[i...]; returns it and advances i.
  std::string_view read_name(std::string_view s, size_t& i, size_t tag_offset, size_t base) const {
    size_t start = i;
    if (i >= s.size() || !is_name_start(s[i])) fail(tag_offset + base + i, "expected a variable name (letters, digits, _)");
    while (i < s.size() && is_name_char(s[i])) ++i;
    return s.substr(start, i - start);
  }

  // Reads a "literal" at s[i...] (i at the quote); returns the unescaped text.
  std::string read_literal(std::string_view s, size_t& i, size_t abs) const {
    std::string out;
    ++i;
    for (; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        out += s[++i];
      } else if (s[i] == '"') {
        ++i;
        return out;
      } else {
        out += s[i];
      }
    }
    fail(abs, "string literal not closed");
  }

  void tag(std::vector<std::unique_ptr<Node>>& top, std::string_view inner, size_t open) {
    // Offset of `inner` within the source, for columns inside the tag.
    size_t base = static_cast<size_t>(inner.data() - t_.data()) - open;
    auto [line, col] = where(open);
    if (inner.empty()) fail(open, "empty tag {{}}");
    if (inner[0] == '!') return;
    auto node = std::make_unique<Node>();
    node->line = line;
    node->column = col;
    if (inner == "else") {
      if (stack_.empty()) fail(open, "{{else}} outside a block");
      Node* n = stack_.back();
      if (n->in_other) fail(open, "second {{else}} in the same block");
      n->in_other = true;
      return;
    }
    if (inner[0] == '"') {
      size_t i = 0;
      node->kind = NodeKind::Literal;
      node->text = read_literal(inner, i, open);
      if (i != inner.size()) fail(open + base + i, "unexpected text after the literal");
      container(top).push_back(std::move(node));
      return;
    }
    if (inner[0] == '/') {
      std::string_view kw = trim(inner.substr(1));
      if (stack_.empty()) fail(open, fmt::format("{{{{/{}}}}} without an open block", kw));
      Node* n = stack_.back();
      std::string_view want = n->kind == NodeKind::Each ? "each" : (n->negate ? "unless" : "if");
      if (kw != want)
        fail(open, fmt::format("{{{{/{}}}}} closes {{{{#{}}}}} opened at line {}", kw, want, n->line));
      stack_.pop_back();
      return;
    }
    if (inner[0] == '#') {
      size_t i = 1;
      size_t kw_start = i;
      while (i < inner.size() && is_name_char(inner[i])) ++i;
      std::string_view kw = inner.substr(kw_start, i - kw_start);
      if (kw != "each" && kw != "if" && kw != "unless")
        fail(open, fmt::format("unknown block '#{}' (use #each, #if or #unless)", kw));
      while (i < inner.size() && is_blank(inner[i])) ++i;
      node->text = std::string(read_name(inner, i, open, base));
      while (i < inner.size() && is_blank(inner[i])) ++i;
      if (kw == "each") {
        node->kind = NodeKind::Each;
      } else {
        node->kind = NodeKind::If;
        node->negate = kw == "unless";
        if (i < inner.size()) {
          if (kw == "unless") fail(open + base + i, "#unless takes a name only");
          std::string_view rest = inner.substr(i);
          if (rest.starts_with("==")) node->op = Op::Eq;
          else if (rest.starts_with("!=")) node->op = Op::Ne;
          else fail(open + base + i, "expected == or != after the name");
          i += 2;
          while (i < inner.size() && is_blank(inner[i])) ++i;
          if (i >= inner.size() || inner[i] != '"') fail(open + base + i, "expected a \"quoted\" value to compare with");
          node->literal = read_literal(inner, i, open);
        }
      }
      if (i != inner.size()) fail(open + base + i, "unexpected text in the tag");
      if (stack_.size() >= static_cast<size_t>(Template::kMaxDepth))
        fail(open, fmt::format("blocks nested deeper than {}", Template::kMaxDepth));
      Node* raw = node.get();
      container(top).push_back(std::move(node));
      stack_.push_back(raw);
      return;
    }
    size_t i = 0;
    node->kind = NodeKind::Var;
    node->text = std::string(read_name(inner, i, open, base));
    if (i != inner.size()) fail(open + base + i, "unexpected text after the variable name");
    container(top).push_back(std::move(node));
  }

  std::string_view t_;
  const std::string& source_;
  int first_line_;
  std::vector<size_t> line_starts_;
  std::vector<Node*> stack_;
};

struct Lookup {
  std::vector<const Scope*> chain;
  const std::string* str(std::string_view name) const {
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
      if (auto* s = (*it)->find_string(name)) return s;
    return nullptr;
  }
  const std::vector<Scope>* list(std::string_view name) const {
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
      if (auto* l = (*it)->find_list(name)) return l;
    return nullptr;
  }
};

class Renderer {
 public:
  Renderer(const std::string& source, bool check) : source_(source), check_(check) {}
  std::string out;

  void run(const std::vector<std::unique_ptr<Node>>& nodes, Lookup& lk) {
    for (const auto& n : nodes) node(*n, lk);
  }

 private:
  [[noreturn]] void fail(const Node& n, const std::string& what) const {
    throw TemplateError(source_, n.line, n.column, what);
  }
  void append(const Node& n, std::string_view s) {
    if (check_) return;
    if (out.size() + s.size() > Template::kMaxOutput)
      fail(n, fmt::format("output larger than {} bytes", Template::kMaxOutput));
    out.append(s);
  }

  void node(const Node& n, Lookup& lk) {
    switch (n.kind) {
      case NodeKind::Text:
      case NodeKind::Literal:
        append(n, n.text);
        return;
      case NodeKind::Var: {
        const std::string* s = lk.str(n.text);
        if (!s) {
          if (lk.list(n.text)) fail(n, fmt::format("'{}' is a list: use {{{{#each {}}}}}", n.text, n.text));
          fail(n, fmt::format("unknown variable '{}'", n.text));
        }
        append(n, *s);
        return;
      }
      case NodeKind::If: {
        bool truth;
        if (const std::string* s = lk.str(n.text)) {
          if (n.op == Op::Eq) truth = *s == n.literal;
          else if (n.op == Op::Ne) truth = *s != n.literal;
          else truth = !s->empty();
        } else if (const auto* l = lk.list(n.text)) {
          if (n.op != Op::Truthy) fail(n, fmt::format("'{}' is a list and cannot be compared", n.text));
          truth = !l->empty();
        } else {
          fail(n, fmt::format("unknown variable '{}'", n.text));
        }
        if (n.negate) truth = !truth;
        if (check_) {
          run(n.body, lk);
          run(n.other, lk);
        } else {
          run(truth ? n.body : n.other, lk);
        }
        return;
      }
      case NodeKind::Each: {
        const auto* l = lk.list(n.text);
        if (!l) {
          if (lk.str(n.text)) fail(n, fmt::format("'{}' is not a list", n.text));
          fail(n, fmt::format("unknown list '{}'", n.text));
        }
        if (check_) {
          Scope empty;
          lk.chain.push_back(l->empty() ? &empty : &l->front());
          run(n.body, lk);
          lk.chain.pop_back();
          run(n.other, lk);
          return;
        }
        if (l->empty()) {
          run(n.other, lk);
          return;
        }
        for (const Scope& item : *l) {
          lk.chain.push_back(&item);
          run(n.body, lk);
          lk.chain.pop_back();
        }
        return;
      }
    }
  }

  const std::string& source_;
  bool check_;
};

}  // namespace

Template Template::parse(std::string_view text, const std::string& source, int first_line) {
  if (text.size() > kMaxSize)
    throw TemplateError(source, first_line, 1, fmt::format("template larger than {} bytes", kMaxSize));
  size_t bad = 0;
  if (!valid_utf8(text, &bad)) {
    int line = first_line + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(bad), '\n'));
    size_t ls = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    int col = static_cast<int>(ls == std::string_view::npos || bad == 0 ? bad : bad - ls - 1) + 1;
    throw TemplateError(source, line, col, "not valid UTF-8 (save the file as UTF-8, not Shift_JIS)");
  }
  // CRLF -> LF so that output line ends are uniform.
  std::string normalized;
  normalized.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    normalized += text[i];
  }
  Template t;
  t.source_ = source;
  Parser p(normalized, t.source_, first_line);
  t.nodes_ = p.run();
  return t;
}

std::string Template::render(const Scope& scope) const {
  Renderer r(source_, false);
  Lookup lk;
  lk.chain.push_back(&scope);
  r.run(nodes_, lk);
  return std::move(r.out);
}

void Template::check(const Scope& schema) const {
  Renderer r(source_, true);
  Lookup lk;
  lk.chain.push_back(&schema);
  r.run(nodes_, lk);
}

}  // namespace omamori::notify
