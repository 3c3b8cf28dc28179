#pragma once
// JSON output as people read it: boost::json prints doubles as "4.34E-1"; this prints the
// shortest round-trip form ("0.434"), like JavaScript's JSON.stringify in the peer.

#include <string>

#include <boost/json/value.hpp>

namespace bench {

std::string to_line(const boost::json::value& v);

} // namespace bench
