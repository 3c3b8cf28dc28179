#pragma once
// The built UI (ui/, built by Vite), embedded at build time: one binary to ship, nothing
// read from disk or the network at run time.

#include <cstddef>
#include <string_view>

namespace taskd {

struct ui_asset {
  std::string_view path; // "/index.html", "/assets/index-abc123.js"
  std::string_view content_type;
  std::string_view body;
};

extern const ui_asset ui_assets[];
extern const std::size_t ui_asset_count;

/// The asset at `path`, or nullptr.
inline const ui_asset* find_ui_asset(std::string_view path) {
  for (std::size_t i = 0; i < ui_asset_count; ++i)
    if (ui_assets[i].path == path) return &ui_assets[i];
  return nullptr;
}

} // namespace taskd
