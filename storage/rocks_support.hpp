#pragma once
// Helpers shared by the store's translation units (internal to storage/).

#include <string>
#include <string_view>

#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "src/core/error.hpp"

namespace taskd::rocks {

/// The one place a rocksdb::Status becomes our error.
inline error from_status(const rocksdb::Status& s, std::string_view what) {
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNoSpace() || (s.IsIOError() && s.ToString().find("No space") != std::string::npos))
    return make_error(errc::storage_full, msg);
  return make_error(errc::storage_error, msg);
}

inline bool starts_with(const rocksdb::Slice& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s.data(), prefix.size()) == prefix;
}

inline std::string_view view(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

} // namespace taskd::rocks
