#include "mirror/postgres_sink.hpp"

#include <algorithm>
#include <set>

#include <boost/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "mirror/rows.hpp"

namespace taskd {

namespace json = boost::json;

const std::vector<mirror_column> mirror_columns = {
    {"id", "bigint"},
    {"type", "varchar(255)"},
    {"payload", "jsonb"},
    {"status", "varchar(50)"},
    {"result", "jsonb"},
    {"error", "text"},
    {"created_at", "timestamptz"},
    {"updated_at", "timestamptz"},
    {"mode", "varchar(10)"},
    {"priority", "integer"},
    {"attempts", "integer"},
    {"max_attempts", "integer"},
    {"run_at", "timestamptz"},
    {"started_at", "timestamptz"},
    {"finished_at", "timestamptz"},
    {"seq", "bigint"},
};

namespace {

// The seed's columns: an existing table must have them. The rest are added if missing.
const std::set<std::string> seed_columns = {"id",     "type",  "payload",    "status",
                                            "result", "error", "created_at", "updated_at"};

// information_schema data types each of our SQL types accepts.
std::vector<std::string> accepted_types(const std::string& sql_type) {
  if (sql_type == "bigint") return {"bigint"};
  if (sql_type == "integer") return {"integer", "bigint"};
  if (sql_type == "jsonb") return {"jsonb", "json"};
  if (sql_type == "text" || sql_type.rfind("varchar", 0) == 0) return {"text", "character varying"};
  if (sql_type == "timestamptz") return {"timestamp with time zone"};
  return {sql_type};
}

std::string column_list() {
  std::string out;
  for (const auto& c : mirror_columns) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

// The recordset's declared types: json_to_recordset converts each JSON value to them.
std::string recordset_types() {
  std::string out;
  for (const auto& c : mirror_columns) {
    std::string type = c.sql_type;
    if (type.rfind("varchar", 0) == 0) type = "text";
    out += (out.empty() ? "" : ", ") + std::string(c.name) + " " + type;
  }
  return out;
}

// A connection that reports server notices to the debug log instead of stderr.
class notice_logger final : public pqxx::errorhandler {
public:
  using pqxx::errorhandler::errorhandler;
  bool operator()(const char msg[]) noexcept override {
    spdlog::debug("postgres mirror: {}", msg);
    return false;
  }
};

std::string with_connect_timeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  bool is_url = url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
  if (!is_url) return url + " connect_timeout=5";
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
}

// libpq's messages span lines (with tabs); keep one line with single spaces.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out.push_back(space ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

} // namespace

struct postgres_sink::connection_state {
  pqxx::connection conn;
  notice_logger notices{conn};
  bool table_checked = false;
  explicit connection_state(const std::string& url) : conn(url) {}
};

std::string incompatibility(const std::vector<existing_column>& columns,
                            const std::vector<std::string>& primary_key) {
  std::set<std::string> ours;
  for (const auto& c : mirror_columns) ours.insert(c.name);
  for (const auto& want : mirror_columns) {
    auto it = std::find_if(columns.begin(), columns.end(),
                           [&](const existing_column& c) { return c.name == want.name; });
    if (it == columns.end()) {
      if (seed_columns.count(want.name)) return std::string("column ") + want.name + " is missing";
      continue;
    }
    auto ok = accepted_types(want.sql_type);
    if (std::find(ok.begin(), ok.end(), it->data_type) == ok.end())
      return std::string("column ") + want.name + " is " + it->data_type + ", expected " +
             want.sql_type;
  }
  for (const auto& c : columns)
    if (!ours.count(c.name) && c.not_null_without_default)
      return "column " + c.name + " is NOT NULL without a default (taskd cannot fill it)";
  if (primary_key != std::vector<std::string>{"id"}) return "id must be the primary key";
  return "";
}

postgres_sink::postgres_sink(postgres_mirror_config cfg) : cfg_(std::move(cfg)) {
  auto dot = cfg_.table.find('.');
  if (dot == std::string::npos) {
    name_ = cfg_.table;
  } else {
    schema_ = cfg_.table.substr(0, dot);
    name_ = cfg_.table.substr(dot + 1);
  }
}

postgres_sink::~postgres_sink() = default;

void postgres_sink::disconnect() { conn_.reset(); }

status postgres_sink::prepare() {
  try {
    if (!conn_) {
      conn_ = std::make_unique<connection_state>(with_connect_timeout(cfg_.url));
      table_ = (schema_.empty() ? "" : conn_->conn.quote_name(schema_) + ".") +
               conn_->conn.quote_name(name_);
      std::string set;
      for (const auto& c : mirror_columns)
        if (std::string(c.name) != "id")
          set += (set.empty() ? "" : ", ") + std::string(c.name) + " = EXCLUDED." + c.name;
      force_upsert_sql_ = "INSERT INTO " + table_ + " AS m (" + column_list() + ") SELECT " +
                          column_list() + " FROM json_to_recordset($1::json) AS r(" +
                          recordset_types() + ") ON CONFLICT (id) DO UPDATE SET " + set;
      upsert_sql_ = force_upsert_sql_ + " WHERE m.seq IS NULL OR m.seq < EXCLUDED.seq";
      delete_sql_ = "DELETE FROM " + table_ +
                    " AS m USING json_to_recordset($1::json) AS d(id bigint, seq bigint) "
                    "WHERE m.id = d.id AND (m.seq IS NULL OR m.seq < d.seq)";
    }
    if (conn_->table_checked) return ok_status();
    auto st = ensure_table();
    if (!st) {
      disconnect();
      return st;
    }
    conn_->table_checked = true;
    return st;
  } catch (const std::exception& e) {
    disconnect();
    return make_error(errc::unavailable, one_line(e.what()));
  }
}

status postgres_sink::ensure_table() {
  pqxx::work tx(conn_->conn);
  std::string schema =
      schema_.empty() ? tx.exec("SELECT current_schema()")[0][0].as<std::string>() : schema_;
  auto rows =
      tx.exec_params("SELECT column_name, data_type, is_nullable = 'NO' AND column_default IS NULL "
                     "FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
                     schema, name_);
  if (rows.empty()) {
    std::string ddl = "CREATE TABLE IF NOT EXISTS " + table_ + " (";
    for (const auto& c : mirror_columns) {
      ddl += std::string(c.name) + " " + c.sql_type;
      if (std::string(c.name) == "id") ddl += " PRIMARY KEY";
      if (seed_columns.count(c.name) && std::string(c.name) != "result" &&
          std::string(c.name) != "error" && std::string(c.name) != "id")
        ddl += " NOT NULL";
      ddl += ", ";
    }
    ddl.resize(ddl.size() - 2);
    tx.exec(ddl + ")");
    tx.commit();
    spdlog::info("postgres mirror: created table {}", cfg_.table);
    return ok_status();
  }
  std::vector<existing_column> columns;
  for (const auto& r : rows)
    columns.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<bool>()});
  std::vector<std::string> pk;
  for (const auto& r : tx.exec_params(
           "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
           "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary",
           table_))
    pk.push_back(r[0].as<std::string>());
  if (auto why = incompatibility(columns, pk); !why.empty())
    return make_error(sink_refused, "table " + cfg_.table + " is incompatible: " + why);
  for (const auto& c : mirror_columns) {
    bool present = std::any_of(columns.begin(), columns.end(),
                               [&](const existing_column& e) { return e.name == c.name; });
    if (present) continue;
    tx.exec("ALTER TABLE " + table_ + " ADD COLUMN IF NOT EXISTS " + c.name + " " + c.sql_type);
    spdlog::info("postgres mirror: added column {} to {}", c.name, cfg_.table);
  }
  tx.commit();
  return ok_status();
}

status postgres_sink::upsert(const std::vector<const change_entry*>& newest, bool force) {
  json::array rows, deletions;
  for (const auto* ch : newest) {
    if (ch->deleted) {
      deletions.push_back(json::object{{"id", ch->t.id}, {"seq", ch->seq}});
      continue;
    }
    json::value row = mirror_row(ch->t, ch->seq);
    replace_nul_chars(row);
    rows.push_back(std::move(row));
  }
  pqxx::work tx(conn_->conn);
  if (!rows.empty()) tx.exec_params(force ? force_upsert_sql_ : upsert_sql_, json::serialize(rows));
  if (!deletions.empty()) tx.exec_params(delete_sql_, json::serialize(deletions));
  tx.commit();
  return ok_status();
}

namespace {

template <class F> status guarded(postgres_sink& sink, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    sink.disconnect();
    return make_error(errc::unavailable, one_line(e.what()));
  }
}

} // namespace

status postgres_sink::apply(const std::vector<const change_entry*>& newest,
                            const std::vector<change_entry>&) {
  if (auto st = prepare(); !st) return st;
  return guarded(*this, [&] { return upsert(newest, false); });
}

status postgres_sink::resync_put(const std::vector<change_entry>& tasks, task_id after, bool last,
                                 std::uint64_t) {
  if (auto st = prepare(); !st) return st;
  std::vector<const change_entry*> rows;
  std::string ids;
  for (const auto& e : tasks) {
    rows.push_back(&e);
    ids += (ids.empty() ? "" : ",") + std::to_string(e.t.id);
  }
  return guarded(*this, [&] {
    if (auto st = upsert(rows, true); !st) return st;
    pqxx::work tx(conn_->conn);
    auto first = static_cast<long long>(after);
    pqxx::result r;
    if (last) {
      r = tx.exec_params("DELETE FROM " + table_ +
                             " WHERE id > $1 AND NOT (id = ANY($2::bigint[]))",
                         first, "{" + ids + "}");
    } else {
      r = tx.exec_params("DELETE FROM " + table_ +
                             " WHERE id > $1 AND id <= $2 AND NOT (id = ANY($3::bigint[]))",
                         first, static_cast<long long>(tasks.back().t.id), "{" + ids + "}");
    }
    tx.commit();
    if (r.affected_rows() > 0)
      spdlog::info("postgres mirror: resync removed {} rows of tasks taskd does not have",
                   r.affected_rows());
    return ok_status();
  });
}

} // namespace taskd
