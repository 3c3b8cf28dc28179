#include "actors/task_actor.hpp"

#include <boost/json.hpp>

#include "src/handlers/builtin.hpp"

namespace taskd {

namespace {

boxed<handler_outcome> failure(std::string error) {
  auto out = make_boxed<handler_outcome>();
  out->error = std::move(error);
  return out;
}

/// Runs exec or webhook to completion on its own thread; the handler enforces the deadline.
void blocking_task(caf::blocking_actor* self, caf::actor supervisor, std::shared_ptr<const task> t,
                   type_config type) {
  std::string input = boost::json::serialize(to_json(*t));
  auto out = make_boxed<handler_outcome>(type.handler == handler_kind::exec
                                             ? run_exec(type.command, input, t->timeout_ms)
                                             : run_webhook(type.url, input, t->timeout_ms));
  self->send(supervisor, outcome_atom::value, t->id, std::move(out));
}

/// builtin:sleep without blocking a worker: a timer for the sleep and one for the timeout.
caf::behavior sleeping_task(caf::event_based_actor* self, caf::actor supervisor,
                            std::shared_ptr<const task> t) {
  millis ms = sleep_duration(*t);
  auto report = [=](boxed<handler_outcome> out) {
    self->send(supervisor, outcome_atom::value, t->id, std::move(out));
    self->quit();
  };
  if (ms >= t->timeout_ms) {
    self->delayed_send(self, std::chrono::milliseconds(t->timeout_ms), timeout_atom::value);
  } else {
    self->delayed_send(self, std::chrono::milliseconds(ms), run_atom::value);
  }
  return {
      [=](run_atom) {
        auto out = make_boxed<handler_outcome>();
        out->success = true;
        out->result = boost::json::object{{"slept_ms", ms}};
        report(out);
      },
      [=](timeout_atom) {
        report(failure("timed out after " + std::to_string(t->timeout_ms) + " ms"));
      },
  };
}

} // namespace

caf::actor spawn_task_actor(caf::local_actor* supervisor, std::shared_ptr<const task> t,
                            const type_config& type) {
  auto sup = caf::actor_cast<caf::actor>(supervisor);
  switch (type.handler) {
  case handler_kind::exec:
  case handler_kind::webhook:
    return supervisor->spawn<caf::detached + caf::monitored>(blocking_task, sup, t, type);
  default: // sleep: instant builtins run inline, worker types are leased
    return supervisor->spawn<caf::monitored>(sleeping_task, sup, t);
  }
}

} // namespace taskd
