#include "src/logging/logging.hpp"

#include <ctime>
#include <filesystem>

#include <boost/json.hpp>
#include <spdlog/async.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace taskd {

namespace json = boost::json;

namespace {

/// Separates a message from its JSON-encoded fields inside one spdlog payload.
constexpr char field_mark = '\x1f';

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

std::string timestamp(const spdlog::log_clock::time_point& tp) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

struct split_payload {
  std::string_view msg;
  std::string_view fields; // a JSON object's members without the braces, or empty
};

split_payload split(const spdlog::details::log_msg& m) {
  std::string_view payload(m.payload.data(), m.payload.size());
  auto mark = payload.find(field_mark);
  if (mark == std::string_view::npos) return {payload, {}};
  return {payload.substr(0, mark), payload.substr(mark + 1)};
}

class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    auto [msg, fields] = split(m);
    append(dest, "{\"ts\":\"");
    append(dest, timestamp(m.time));
    append(dest, "\",\"level\":\"");
    auto lvl = spdlog::level::to_string_view(m.level);
    append(dest, std::string_view(lvl.data(), lvl.size()));
    append(dest, "\",\"msg\":");
    append(dest, json::serialize(json::string(msg)));
    if (!fields.empty()) {
      dest.push_back(',');
      append(dest, fields);
    }
    append(dest, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

/// Human-readable: "2026-01-02T03:04:05.678Z info  task completed task_id=3 type=echo".
class text_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    auto [msg, fields] = split(m);
    append(dest, timestamp(m.time));
    dest.push_back(' ');
    auto lvl = spdlog::level::to_string_view(m.level);
    append(dest, std::string_view(lvl.data(), lvl.size()));
    dest.push_back(' ');
    append(dest, msg);
    if (!fields.empty()) {
      json::error_code ec;
      auto obj = json::parse("{" + std::string(fields) + "}", ec);
      if (!ec && obj.is_object()) {
        for (const auto& [k, v] : obj.get_object()) {
          dest.push_back(' ');
          append(dest, std::string_view(k.data(), k.size()));
          dest.push_back('=');
          append(dest, v.is_string() ? std::string(v.get_string()) : json::serialize(v));
        }
      }
    }
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<text_formatter>();
  }
};

std::filesystem::path log_dir(const config& cfg) {
  std::filesystem::path dir = cfg.logging.dir.empty()
                                  ? std::filesystem::path(cfg.server.data_dir) / "logs"
                                  : std::filesystem::path(cfg.logging.dir);
  return dir;
}

} // namespace

status setup_logging(const config& cfg) {
  auto level = spdlog::level::from_str(cfg.log_level);
  std::vector<spdlog::sink_ptr> sinks;
  if (cfg.logging.console != "off") {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    if (cfg.logging.console == "json")
      console->set_formatter(std::make_unique<json_formatter>());
    else
      console->set_formatter(std::make_unique<text_formatter>());
    sinks.push_back(console);
  }
  if (cfg.logging.files) {
    auto dir = log_dir(cfg);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return make_error(errc::invalid_request,
                        "cannot create log dir " + dir.string() + ": " + ec.message());
    try {
      auto combined = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          (dir / "combined.log").string(), cfg.logging.max_file_bytes, cfg.logging.max_files);
      combined->set_formatter(std::make_unique<json_formatter>());
      auto errors = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          (dir / "error.log").string(), cfg.logging.max_file_bytes, cfg.logging.max_files);
      errors->set_formatter(std::make_unique<json_formatter>());
      errors->set_level(spdlog::level::err);
      sinks.push_back(combined);
      sinks.push_back(errors);
    } catch (const spdlog::spdlog_ex& e) {
      return make_error(errc::invalid_request, std::string("cannot open log files: ") + e.what());
    }
  }
  spdlog::init_thread_pool(8192, 1);
  auto logger = std::make_shared<spdlog::async_logger>(
      "taskd", sinks.begin(), sinks.end(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
  return ok_status();
}

void log_event(spdlog::level::level_enum level, std::string_view msg,
               std::initializer_list<log_field> fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  std::string payload(msg);
  payload.push_back(field_mark);
  bool first = true;
  for (const auto& f : fields) {
    if (f.value.is_null()) continue;
    if (!first) payload.push_back(',');
    first = false;
    payload += json::serialize(json::string(f.key));
    payload.push_back(':');
    payload += json::serialize(f.value);
  }
  if (first) payload.pop_back(); // no fields after all
  logger->log(level, "{}", payload);
}

void log_changes(const std::vector<observed_change>& changes) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(spdlog::level::info)) return; // debug implies info
  for (const auto& ch : changes) {
    auto kind = ch.kind();
    if (kind == transition::none) continue;
    const task& t = *ch.after;
    json::value duration = nullptr;
    if (t.started_at && t.updated_at >= *t.started_at &&
        (kind == transition::completed || kind == transition::failed ||
         kind == transition::retry_scheduled))
      duration = t.updated_at - *t.started_at;
    json::value error = nullptr;
    if (t.error && (kind == transition::failed || kind == transition::retry_scheduled ||
                    kind == transition::stall_retried || kind == transition::abandoned))
      error = json::string(*t.error);
    const char* msg = "task changed";
    switch (kind) {
    case transition::created: msg = "task created"; break;
    case transition::started: msg = "task started"; break;
    case transition::completed: msg = "task completed"; break;
    case transition::failed: msg = "task failed"; break;
    case transition::retry_scheduled: msg = "attempt failed, retry scheduled"; break;
    case transition::stall_retried: msg = "attempt stalled, retrying"; break;
    case transition::abandoned: msg = "task abandoned"; break;
    case transition::retried: msg = "task retried"; break;
    case transition::cancelled: msg = "task cancelled"; break;
    case transition::deleted: msg = "task deleted"; break;
    case transition::none: break;
    }
    log_event(kind == transition::deleted ? spdlog::level::debug : spdlog::level::info, msg,
              {{"task_id", t.id},
               {"type", json::string(t.type)},
               {"status", json::string(ch.deleted ? "deleted" : to_string(t.status))},
               {"attempt", t.attempts},
               {"duration_ms", duration},
               {"error", error}});
  }
}

void finish_logging() {
  auto async = spdlog::default_logger();
  auto sync =
      std::make_shared<spdlog::logger>("taskd-final", async->sinks().begin(), async->sinks().end());
  sync->set_level(async->level());
  sync->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(sync);
  spdlog::drop("taskd");
  async.reset();
  // The pool drains its queue and joins its thread when its last owner lets go.
  spdlog::details::registry::instance().set_tp(nullptr);
  sync->flush();
}

bool set_log_level(std::string_view name) {
  auto level = spdlog::level::from_str(std::string(name));
  if (level == spdlog::level::off && name != "off") return false;
  spdlog::default_logger_raw()->set_level(level);
  return true;
}

std::string log_level_name() {
  auto v = spdlog::level::to_string_view(spdlog::default_logger_raw()->level());
  return std::string(v.data(), v.size());
}

} // namespace taskd
