// taskd: parse flags and config, open the store, recover, start the actors and the HTTP
// server, wait for SIGINT/SIGTERM, drain, shut down in order.

#include <csignal>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "actors/pruner_actor.hpp"
#include "actors/bridge_actor.hpp"
#include "actors/mirror_actor.hpp"
#include "mirror/postgres_sink.hpp"
#include "mirror/redis_sink.hpp"
#include "actors/scheduler_actor.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/faktory_server.hpp"
#include "src/config/config.hpp"
#include "src/core/clock.hpp"
#include "src/logging/logging.hpp"
#include "src/metrics/metrics.hpp"
#include "src/handlers/handlers.hpp"

using namespace taskd;

namespace {

int check_config(const std::string& path) {
  auto cfg = load_config_file(path);
  if (!cfg) {
    std::cerr << cfg.err().message << "\n";
    return 1;
  }
  std::cout << path << ": ok (" << cfg->types.size() << " task types: " << known_type_names(*cfg)
            << ")\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"taskd: a durable task engine"};
  std::string config_path, listen, data_dir, log_level, check_path;
  bool insecure = false;
  app.add_option("--config", config_path, "TOML config file (default: the embedded config)");
  app.add_option("--listen", listen, "HOST:PORT to listen on (overrides server.listen)");
  app.add_option("--data-dir", data_dir, "RocksDB data directory (overrides server.data_dir)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off");
  app.add_option("--check-config", check_path, "validate a config file, print errors, exit");
  app.add_flag("--insecure", insecure,
               "allow listening on a non-loopback address without an API token");
  CLI11_PARSE(app, argc, argv);

  if (!check_path.empty()) return check_config(check_path);

  auto loaded =
      config_path.empty() ? result<config>(default_config()) : load_config_file(config_path);
  if (!loaded) {
    std::cerr << loaded.err().message << "\n";
    return 2;
  }
  auto cfg = std::make_shared<config>(std::move(*loaded));
  if (!listen.empty()) {
    auto hp = parse_listen(listen);
    if (!hp) {
      std::cerr << "--listen: " << hp.err().message << "\n";
      return 2;
    }
    cfg->server.host = hp->first;
    cfg->server.port = hp->second;
  }
  if (!data_dir.empty()) cfg->server.data_dir = data_dir;
  if (!http::is_loopback_host(cfg->server.host) && cfg->server.api_token.empty() && !insecure) {
    std::cerr << "refusing to listen on " << cfg->server.host
              << " without an API token: anyone who can reach it could read and change "
                 "every task. Set [server] api_token or TASKD_API_TOKEN, or pass --insecure.\n";
    return 2;
  }
  if (!log_level.empty()) cfg->log_level = log_level;
  auto level = spdlog::level::from_str(cfg->log_level);
  if (level == spdlog::level::off && cfg->log_level != "off") {
    std::cerr << "--log-level: unknown level " << cfg->log_level << "\n";
    return 2;
  }

  // Signals are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  std::filesystem::create_directories(cfg->server.data_dir, ec);
  if (auto st = setup_logging(*cfg); !st) {
    std::cerr << st.err().message << "\n";
    return 1;
  }
  store_options so;
  so.path = cfg->server.data_dir;
  so.change_log_retention = cfg->retention.change_log_max;
  so.min_free_bytes = cfg->limits.min_free_disk_mb << 20;
  auto db = store::open(so);
  if (!db) {
    spdlog::critical("cannot open the store: {}", db.err().message);
    return 1;
  }
  // Metrics first: recovery's transitions (stalled tasks) are counted too.
  const millis started_at = now_ms();
  metrics stats(*cfg, TASKD_VERSION, started_at);
  (*db)->on_commit([&stats](const std::vector<write_result>& results, double seconds) {
    std::vector<observed_change> changes;
    for (const auto& r : results) {
      if (!r) continue;
      for (const auto& ch : *r) changes.push_back({ch.before, &ch.after, ch.deleted, ch.existed});
    }
    stats.observe_commit(changes, seconds);
    log_changes(changes);
  });
  if (auto st = restore_auto_types(**db, *cfg); !st) {
    spdlog::critical("reading the declared task types failed: {}", st.err().message);
    return 1;
  }
  if (auto st = recover_stalled(**db); !st) {
    spdlog::critical("recovery failed: {}", st.err().message);
    return 1;
  }

  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.policy", caf::atom("sharing"));
  caf_cfg.set("logger.verbosity", caf::atom("quiet"));
  // The actors only route messages (blocking handlers get threads of their own): one
  // worker avoids the thread hand-offs that dominate CPU on small VMs (measured: e2e
  // create->start p50 2.4 -> 0.8 ms, enqueue_single 5.8k -> 8.5k/s vs CAF's default 4).
  caf_cfg.set("scheduler.max-threads", 1);
  add_message_types(caf_cfg);
  add_bridge_message_types(caf_cfg);
  auto sys = std::make_unique<caf::actor_system>(caf_cfg);
  auto [scheduler, creates] = spawn_scheduler(*sys, scheduler_deps{cfg, db->get()});
  auto pruner = spawn_pruner(*sys, cfg->retention, db->get());

  auto subscribers = std::make_shared<std::atomic<std::size_t>>(0);
  auto bridge = spawn_bridge(*sys, bridge_deps{db->get(), cfg->events, subscribers});

  std::vector<caf::actor> mirrors;
  std::vector<std::shared_ptr<const mirror_status>> mirror_statuses;
  auto add_mirror = [&](const char* name, std::shared_ptr<mirror_sink> sink, std::size_t batch) {
    auto status = std::make_shared<mirror_status>(name);
    mirror_statuses.push_back(status);
    mirrors.push_back(
        spawn_mirror(*sys, mirror_deps{db->get(), std::move(sink), status, batch,
                                       cfg->bridge.retry_min_ms, cfg->bridge.retry_max_ms}));
  };
  if (const auto& pg = cfg->bridge.postgres)
    add_mirror("postgres", std::make_shared<postgres_sink>(*pg), pg->batch);
  if (const auto& rd = cfg->bridge.redis)
    add_mirror("redis", std::make_shared<redis_sink>(*rd), rd->batch);

  http::api_context ctx{
      cfg,    db->get(),   sys.get(), scheduler, std::make_shared<std::atomic<bool>>(true),
      bridge, subscribers, started_at};
  ctx.stats = &stats;
  ctx.mirrors = mirror_statuses;
  ctx.creates = creates;
  // Faktory listens before HTTP does: a client that waits for /readyz finds both open.
  std::unique_ptr<http::faktory_server> faktory;
  if (cfg->faktory) {
    faktory =
        std::make_unique<http::faktory_server>(ctx, *cfg->faktory, cfg->server.max_body_bytes);
    try {
      faktory->start();
    } catch (const std::exception& e) {
      spdlog::critical("cannot listen for Faktory on {}:{}: {}", cfg->faktory->host,
                       cfg->faktory->port, e.what());
      return 1;
    }
    spdlog::info("Faktory protocol on {}:{}", cfg->faktory->host, faktory->port());
  }
  http::server_options ho{cfg->server.host,
                          cfg->server.port,
                          cfg->server.max_body_bytes,
                          2,
                          cfg->server.max_connections,
                          std::chrono::milliseconds(cfg->server.request_timeout_ms)};
  http::server server(
      ho,
      [&ctx](http::request&& req, http::responder r) {
        http::handle_request(ctx, std::move(req), std::move(r));
      },
      [&ctx](const http::request& req) { return http::upgrade_request(ctx, req); });
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen on {}:{}: {}", cfg->server.host, cfg->server.port, e.what());
    return 1;
  }
  spdlog::info("taskd listening on http://{}:{} (data in {})", cfg->server.host, server.port(),
               cfg->server.data_dir);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: draining (grace {} ms)", sig, cfg->limits.shutdown_grace_ms);
  ctx.draining->store(true);

  bool drained = false;
  {
    caf::scoped_actor self{*sys};
    self->request(scheduler, std::chrono::milliseconds(cfg->limits.shutdown_grace_ms + 5000),
                  drain_atom::value, cfg->limits.shutdown_grace_ms)
        .receive([&](bool all_done) { drained = all_done; },
                 [&](caf::error& e) { spdlog::error("drain failed: {}", caf::to_string(e)); });
  }
  server.stop();
  if (faktory) faktory->stop();
  caf::anon_send_exit(pruner, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bridge, caf::exit_reason::user_shutdown);
  for (auto& m : mirrors) caf::anon_send_exit(m, caf::exit_reason::user_shutdown);
  (*db)->close();
  (*db)->on_commit({});
  if (!drained) {
    // Attempts still running stay in_progress on disk and are recovered as stalled at the
    // next start; their threads may be blocked in handlers, so do not wait for them.
    spdlog::warn("grace period over with tasks still running; they will be retried on restart");
    kill_running_exec_children();
    finish_logging();
    std::_Exit(0);
  }
  caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
  spdlog::info("stopped");
  finish_logging();
  return 0;
}
