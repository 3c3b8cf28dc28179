#pragma once
// A task actor runs one attempt of one task and reports exactly one
// (outcome_atom, task_id, boxed<handler_outcome>) to its supervisor, then quits.
// The scheduler monitors it: if it dies without reporting, the attempt fails.
//
// Handlers that block (exec, webhook) run on a detached actor (its own thread), never
// on CAF's shared workers; builtin:sleep runs on the shared workers without blocking.
// The instant builtins (noop, echo, fail) need no actor: the scheduler runs them inline.

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "src/config/config.hpp"

namespace taskd {

/// Spawns the actor for one attempt; `t` is the task as started (status in_progress).
caf::actor spawn_task_actor(caf::local_actor* supervisor, std::shared_ptr<const task> t,
                            const type_config& type);

} // namespace taskd
