#pragma once
// What the store's unit tests share: a temp directory, an open store, a blocking commit.

#include <doctest/doctest.h>

#include <filesystem>
#include <future>
#include <memory>

#include "storage/store.hpp"

namespace taskd::testing {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/taskd-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

inline std::unique_ptr<store> open_store(const temp_dir& dir) {
  store_options o;
  o.path = dir.path.string();
  auto s = store::open(o);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.err().message));
  return std::move(*s);
}

/// Submits and waits: the callback runs once the batch is durable.
inline write_result commit(store& s, write_op op) {
  std::promise<write_result> p;
  auto f = p.get_future();
  s.submit(std::move(op), [&p](write_result r) { p.set_value(std::move(r)); });
  return f.get();
}

} // namespace taskd::testing
