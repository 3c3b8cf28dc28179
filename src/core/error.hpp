#pragma once
// One error policy: functions return `result<T>`; the client-visible code decides the
// HTTP status in exactly one place (http/errors.cpp).

#include <string>
#include <utility>
#include <variant>

namespace taskd {

enum class errc {
  invalid_json,       // 400: body is not JSON
  invalid_request,    // 400: JSON of the wrong shape, bad field values
  unknown_type,       // 400: task type not configured
  not_found,          // 404
  method_not_allowed, // 405
  unauthorized,       // 401: no or a wrong API token
  forbidden,          // 403: a cross-site request
  conflict,           // 409: the task is not in a state that allows this
  lease_lost,         // 409: a worker's token is not the task's current lease
  payload_too_large,  // 413
  too_many_pending,   // 429: admission bound reached (backpressure)
  shutting_down,      // 503: no longer admitting
  unavailable,        // 503: a capacity limit other than pending tasks
  storage_error,      // 500: RocksDB failed (never client input)
  storage_full,       // 507: disk full
  internal,           // 500
};

const char* errc_name(errc code);

struct error {
  errc code;
  std::string message;
};

inline error make_error(errc code, std::string message) { return error{code, std::move(message)}; }

/// `expected`-style return: either a value or an error. C++17 has no std::expected.
template <class T> class [[nodiscard]] result {
public:
  result(T value) : v_(std::move(value)) {}
  result(error err) : v_(std::move(err)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const error& err() const { return std::get<1>(v_); }

private:
  std::variant<T, error> v_;
};

struct ok_t {};
using status = result<ok_t>;
inline status ok_status() { return ok_t{}; }

} // namespace taskd
