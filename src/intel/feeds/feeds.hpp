// Feed parsers: plain lists, CSV with a column mapping, Maltrail trail files,
// STIX 2.1 bundles. Each turns a file's text into normalised indicators and
// counts, by reason, every line or object it did not take (ParseResult).
// Parsers never throw on bad input; only bad configuration (an invalid CSV
// column mapping) is reported through `error`.
#pragma once

#include <string>
#include <string_view>

#include "intel/indicator.hpp"

namespace omamori::intel {

// One indicator per line; '#' and ';' start comments (whole line, or after whitespace);
// hosts-file lines ("0.0.0.0 evil.example") give their name. Kind is detected per line.
ParseResult parse_plain(std::string_view text, const FeedConfig& cfg, TimeMs now);

// Fields by 1-based column: value (required), kind, category, family, tags (';' or '|'
// separated), confidence, first_seen, last_seen, expiry, reference. RFC 4180 quoting.
// Returns false and sets error when cfg.columns is not a valid mapping.
bool parse_csv(std::string_view text, const FeedConfig& cfg, TimeMs now, ParseResult& out, std::string& error);

// A Maltrail trail file. file_name (e.g. "elf_mirai.txt") gives the family ("mirai") and,
// for "sinkhole_*", the category; "# Reference:" and "# Aliases:" comments become the
// reference and alias tags of the entries that follow.
ParseResult parse_maltrail(std::string_view text, const FeedConfig& cfg, std::string_view file_name, TimeMs now);
// The family a Maltrail file name stands for: "elf_mirai.txt" -> "mirai".
std::string maltrail_family(std::string_view file_name);

// A STIX 2.1 (or 2.0) bundle, or a single indicator object, or a JSON array of objects.
ParseResult parse_stix(std::string_view text, const FeedConfig& cfg, TimeMs now);

// Dispatches on cfg.format. Returns false with error on unknown format or bad CSV mapping.
bool parse_feed(std::string_view text, const FeedConfig& cfg, std::string_view file_name, TimeMs now, ParseResult& out,
                std::string& error);

bool read_text_file(const std::string& path, std::string& out, std::string& error);

}  // namespace omamori::intel
