#include <doctest/doctest.h>

#include "actors/pruner_actor.hpp"

using namespace taskd;

TEST_CASE("retention: the plan covers each finished status with a bound") {
  retention_config r;
  auto plan = prune_plan(r, 1000000000);
  REQUIRE(plan.size() == 4);
  CHECK(plan[0].status == task_status::completed);
  CHECK(plan[0].finished_before == 1000000000 - r.completed_ms);
  CHECK(plan[1].status == task_status::failed);
  CHECK(plan[2].status == task_status::abandoned);
  CHECK(plan[2].finished_before == 1000000000 - r.failed_ms);
  CHECK(plan[3].status == task_status::cancelled);
  CHECK(plan[0].limit == r.prune_batch);

  r.completed_ms = 0;
  r.completed_max = 10;
  r.cancelled_ms = 0;
  plan = prune_plan(r, 5000);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].finished_before == 0);
  CHECK(plan[0].keep_max == 10);
}
