// File helpers shared by the privacy component: secrets, atomic replacement.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace omamori::privacy {

// Creates the directory and its missing parents with the given mode.
// Throws std::runtime_error naming the directory.
void make_dirs(const std::string& dir, unsigned mode = 0700);

// The directory part of a path ("." when none).
std::string dir_of(const std::string& path);

// Reads a secret file; when absent, creates it atomically with `create_bytes`
// random bytes (RAND_bytes), mode 0600, parents 0700. Refuses files readable
// or writable by others. `what` names the secret in errors.
std::vector<uint8_t> read_or_create_secret(const std::string& path, size_t create_bytes, const char* what);

// Replaces path with content atomically (temp file in the same directory,
// fsync, rename, fsync of the directory); the file gets exactly `mode`.
void replace_file(const std::string& path, const std::string& content, unsigned mode = 0600);

// Reads a whole file; false (with errno set) when it cannot be opened.
bool read_file(const std::string& path, std::string& out);

}  // namespace omamori::privacy
