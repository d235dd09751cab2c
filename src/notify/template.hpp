// A small, safe text template language for subscriber warnings.
//
// Operators edit the warning templates, so the language has no code
// execution, no file access and no recursion beyond a fixed nesting depth:
//
//   {{name}}                       the value of a variable
//   {{"text"}}                     literal text (e.g. {{"{{"}} for two braces)
//   {{#each list}} ... {{/each}}   repeat for each item (item variables first,
//                                  then the outer ones); {{else}} for an empty list
//   {{#if name}} ... {{/if}}       when the value is not empty
//   {{#if name == "x"}} / {{#if name != "x"}}   comparison with a literal
//   {{#unless name}} ... {{/unless}}            when the value is empty
//   {{else}}                       the other branch of #if / #unless / #each
//   {{! comment }}                 nothing
//
// A block tag alone on its line (only spaces around it) removes that whole
// line from the output, so templates can be laid out one tag per line.
// Nothing is escaped (the output is plain text). Errors carry the line and
// column of the offending tag; unknown variable names are errors, both when
// a template is checked against a schema and when it is rendered.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace omamori::notify {

struct TemplateError : std::runtime_error {
  TemplateError(const std::string& source, int line, int column, const std::string& what);
  int line;
  int column;
};

// The values a template sees: named strings and named lists of nested scopes.
class Scope {
 public:
  void set(const std::string& name, std::string value) { strings_[name] = std::move(value); }
  // Declares the list (possibly empty) and returns it for appending items.
  std::vector<Scope>& list(const std::string& name) { return lists_[name]; }

  const std::string* find_string(std::string_view name) const;
  const std::vector<Scope>* find_list(std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> strings_;
  std::map<std::string, std::vector<Scope>, std::less<>> lists_;
};

struct Node;

class Template {
 public:
  static constexpr size_t kMaxSize = 256 * 1024;    // template source bytes
  static constexpr int kMaxDepth = 16;              // nested blocks
  static constexpr size_t kMaxOutput = 1024 * 1024; // rendered bytes

  // Parses `text` (CRLF line ends are accepted). `source` names the file in
  // error messages; `first_line` is the file line the text starts at.
  // Throws TemplateError.
  static Template parse(std::string_view text, const std::string& source = "template", int first_line = 1);

  Template();
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with the variables of `scope`. Throws TemplateError for an
  // unknown variable or a list used as text, and when the output would pass
  // kMaxOutput.
  std::string render(const Scope& scope) const;

  // Checks every branch against a schema: a scope whose lists hold one
  // example item each. Throws TemplateError for the first unknown name.
  void check(const Scope& schema) const;

 private:
  std::string source_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace omamori::notify
