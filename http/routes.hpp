#pragma once
// The route handlers, one per endpoint; api.cpp maps paths and methods to them.

#include "http/exchange.hpp"

namespace taskd::http {

// Tasks (task_routes.cpp).
void create_task(const exchange& ex, const request& req);
void create_batch(const exchange& ex, const request& req);
void get_task(const exchange& ex, task_id id);
void list_tasks(const exchange& ex, std::string_view query);
void post_cancel(const exchange& ex, task_id id);
void post_retry(const exchange& ex, task_id id);
void post_promote(const exchange& ex, task_id id);
void delete_task(const exchange& ex, task_id id);
void task_timeline(const exchange& ex, task_id id);
void task_attempts(const exchange& ex, task_id id);
void task_logs(const exchange& ex, task_id id);

// Remote workers (worker_routes.cpp).
void lease_tasks(const exchange& ex, const request& req);
void worker_report_call(const exchange& ex, const request& req, task_id id, worker_report kind);
void list_workers(const exchange& ex);

// Types and administration (admin_routes.cpp).
void list_types(const exchange& ex);
void get_type(const exchange& ex, std::string_view type);
void set_type_paused(const exchange& ex, std::string_view type, bool paused);
void bulk_type_action(const exchange& ex, std::string_view type, bulk_action action);
void clean_tasks(const exchange& ex, const request& req);
void admin_info(const exchange& ex);
void prometheus_metrics(const exchange& ex);
void get_log_level(const exchange& ex);
void put_log_level(const exchange& ex, const request& req);

/// Since when the longest-waiting due pending task of a type has been due (its run_at),
/// refreshed at most once a second; none when nothing pending is due.
std::optional<millis> oldest_due_pending_since(const exchange& ex, const std::string& type,
                                               std::uint64_t pending);

} // namespace taskd::http
