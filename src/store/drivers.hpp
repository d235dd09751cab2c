// The two drivers behind store::open (internal to src/store).
#pragma once

#include <memory>
#include <string>

#include "store/db.hpp"

namespace omamori::store {

std::unique_ptr<Db> open_sqlite(const std::string& path);
std::unique_ptr<Db> open_postgres(const std::string& conninfo);

}  // namespace omamori::store
