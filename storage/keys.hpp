#pragma once
// Key encodings. All integers are big-endian so RocksDB's bytewise order is numeric order.

#include <cstdint>
#include <string>
#include <string_view>

#include "src/core/task.hpp"

namespace taskd::keys {

void put_u64(std::string& out, std::uint64_t v);
void put_u32(std::string& out, std::uint32_t v);
std::uint64_t get_u64(std::string_view in, std::size_t offset = 0);
std::uint32_t get_u32(std::string_view in, std::size_t offset = 0);

std::string task_key(task_id id);

/// Ready index: [lane][type '\0' for async][INT32_MAX - priority: u32][id: u64].
/// Sync tasks share one lane across all types; async tasks have a lane per type.
/// Bytewise order = dispatch order: higher priority first, then FIFO by id.
inline constexpr char sync_lane = 'S';
inline constexpr char async_lane = 'A';
std::string ready_prefix(task_mode mode, std::string_view type);
std::string ready_key(task_mode mode, std::string_view type, std::int32_t priority, task_id id);
std::uint32_t priority_rank(std::int32_t priority);
std::int32_t priority_from_rank(std::uint32_t rank);

/// Schedule index: [run_at: u64][id: u64] for pending tasks whose run_at is in the future.
std::string schedule_key(millis run_at, task_id id);

/// Listing index: 'u' type '\0' status id. Listing by type or by status alone merges
/// its ranges.
std::string type_status_key(std::string_view type, task_status s, task_id id);
std::string type_status_prefix(std::string_view type, task_status s);

/// Retired from the listing index CF (data directories of earlier versions; the store
/// migrates them when it opens): 'c' [id: u64][seq: u64], a task's timeline, now the
/// record's change_seqs; 't' type '\0' id, listing by type, now a merge of 'u' ranges.
inline constexpr char retired_timeline_tag = 'c';
inline constexpr char retired_type_tag = 't';

std::string change_key(std::uint64_t seq);

/// Finished index: [status][finished_at: u64][id: u64], oldest first, for retention.
std::string finished_prefix(task_status s);
std::string finished_key(task_status s, millis finished_at, task_id id);

/// Meta keys.
inline constexpr std::string_view next_id_key = "next_id";
inline constexpr std::string_view next_seq_key = "next_seq";
inline constexpr std::string_view count_prefix = "count/";
std::string count_key(std::string_view type, task_status s);
inline constexpr std::string_view paused_prefix = "paused/";
inline constexpr std::string_view cursor_prefix = "cursor/";

} // namespace taskd::keys
