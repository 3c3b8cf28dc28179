#include "src/core/error.hpp"

namespace taskd {

const char* errc_name(errc code) {
  switch (code) {
  case errc::invalid_json: return "invalid_json";
  case errc::invalid_request: return "invalid_request";
  case errc::unknown_type: return "unknown_type";
  case errc::not_found: return "not_found";
  case errc::method_not_allowed: return "method_not_allowed";
  case errc::unauthorized: return "unauthorized";
  case errc::forbidden: return "forbidden";
  case errc::conflict: return "conflict";
  case errc::lease_lost: return "lease_lost";
  case errc::payload_too_large: return "payload_too_large";
  case errc::too_many_pending: return "too_many_pending";
  case errc::shutting_down: return "shutting_down";
  case errc::unavailable: return "unavailable";
  case errc::storage_error: return "storage_error";
  case errc::storage_full: return "storage_full";
  case errc::internal: return "internal";
  }
  return "internal";
}

} // namespace taskd
