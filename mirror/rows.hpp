#pragma once
// What a mirror writes for a task and which changes of a page it writes.

#include <cstdint>
#include <vector>

#include <boost/json/object.hpp>

#include "storage/store.hpp"

namespace taskd {

/// The newest change of each task in `page`, in change-log order. Mirrors write only
/// these: a batch's intermediate states are never visible, and a replayed batch cannot
/// bring back a task it also deletes.
std::vector<const change_entry*> newest_per_task(const std::vector<change_entry>& page);

/// A task as a mirror row: id, type, payload, status, result, error, created_at,
/// updated_at, mode, priority, attempts, max_attempts, run_at, started_at, finished_at
/// (as the API shows them: RFC 3339 timestamps, null when absent) and `seq`.
boost::json::object mirror_row(const task& t, std::uint64_t seq);

/// Replaces U+0000 in every string and key with U+FFFD: PostgreSQL's text and jsonb
/// cannot hold it, and one such task must not stop the mirror.
void replace_nul_chars(boost::json::value& v);

} // namespace taskd
