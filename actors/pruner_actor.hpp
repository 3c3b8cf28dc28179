#pragma once
// The pruner actor enforces [retention]: it deletes finished tasks in small batches in the
// background. Each batch is one store operation joining the writer's group commit, so
// pruning never holds up dispatch for longer than one batch's write.
//
// Accepts nothing from outside; it runs on its own timer until the system stops.

#include <caf/all.hpp>

#include "src/config/config.hpp"
#include "storage/store.hpp"

namespace taskd {

caf::actor spawn_pruner(caf::actor_system& sys, const retention_config& retention, store* db);

/// The prune operations one pass submits (one per finished status with a bound), at `now`.
std::vector<prune_op> prune_plan(const retention_config& retention, millis now);

} // namespace taskd
