#include "storage/keys.hpp"

namespace taskd::keys {

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint64_t get_u64(std::string_view in, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && offset + i < in.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(in[offset + i]);
  return v;
}

std::uint32_t get_u32(std::string_view in, std::size_t offset) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4 && offset + i < in.size(); ++i)
    v = (v << 8) | static_cast<unsigned char>(in[offset + i]);
  return v;
}

std::string task_key(task_id id) {
  std::string k;
  k.reserve(8);
  put_u64(k, id);
  return k;
}

std::uint32_t priority_rank(std::int32_t priority) {
  return static_cast<std::uint32_t>(static_cast<std::int64_t>(INT32_MAX) - priority);
}

std::int32_t priority_from_rank(std::uint32_t rank) {
  return static_cast<std::int32_t>(static_cast<std::int64_t>(INT32_MAX) - rank);
}

std::string ready_prefix(task_mode mode, std::string_view type) {
  std::string k;
  if (mode == task_mode::sync) {
    k.push_back(sync_lane);
  } else {
    k.push_back(async_lane);
    k.append(type);
    k.push_back('\0');
  }
  return k;
}

std::string ready_key(task_mode mode, std::string_view type, std::int32_t priority, task_id id) {
  std::string k = ready_prefix(mode, type);
  put_u32(k, priority_rank(priority));
  put_u64(k, id);
  return k;
}

std::string schedule_key(millis run_at, task_id id) {
  std::string k;
  k.reserve(16);
  put_u64(k, static_cast<std::uint64_t>(run_at < 0 ? 0 : run_at));
  put_u64(k, id);
  return k;
}

std::string type_status_prefix(std::string_view type, task_status s) {
  std::string k{'u'};
  k.append(type);
  k.push_back('\0');
  k.push_back(static_cast<char>(s));
  return k;
}

std::string type_status_key(std::string_view type, task_status s, task_id id) {
  std::string k = type_status_prefix(type, s);
  put_u64(k, id);
  return k;
}

std::string change_key(std::uint64_t seq) {
  std::string k;
  put_u64(k, seq);
  return k;
}

std::string finished_prefix(task_status s) { return std::string(1, static_cast<char>(s)); }

std::string finished_key(task_status s, millis finished_at, task_id id) {
  std::string k = finished_prefix(s);
  put_u64(k, static_cast<std::uint64_t>(finished_at < 0 ? 0 : finished_at));
  put_u64(k, id);
  return k;
}

std::string count_key(std::string_view type, task_status s) {
  std::string k(count_prefix);
  k.append(type);
  k.push_back('/');
  k.append(to_string(s));
  return k;
}

} // namespace taskd::keys
