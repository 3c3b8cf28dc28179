#pragma once
// Helpers shared by the store's translation units (internal to storage/).

#include <memory>
#include <string>
#include <string_view>

#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>
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

/// A key's prefix without its last `tail` bytes (keys shorter than that are outside the
/// domain): the run a key belongs to when keys end in an ordered integer.
class tail_trimmed : public rocksdb::SliceTransform {
public:
  explicit tail_trimmed(std::size_t tail)
      : tail_(tail), name_("taskd.all_but_tail." + std::to_string(tail)) {}
  const char* Name() const override { return name_.c_str(); }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), key.size() - tail_};
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= tail_; }

private:
  std::size_t tail_;
  std::string name_;
};

inline std::shared_ptr<const rocksdb::SliceTransform> all_but_tail(std::size_t tail) {
  return std::make_shared<const tail_trimmed>(tail);
}

} // namespace taskd::rocks
