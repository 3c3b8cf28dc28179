#pragma once
// JSON text to a value, with every number exactly as written. Boost.JSON 1.81's own
// parse rounds some doubles of 16-17 significant digits to a neighbour (1 unit in the
// last place); a payload must come back as it was sent, so numbers with a fraction or an
// exponent are converted here with std::from_chars (correctly rounded).

#include <string_view>

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

namespace taskd {

/// Like boost::json::parse(text, ec): one document, nothing after it. A number beyond
/// double's range is an error (Boost would make it an infinity, which is not JSON).
boost::json::value parse_json(std::string_view text, boost::system::error_code& ec);

} // namespace taskd
