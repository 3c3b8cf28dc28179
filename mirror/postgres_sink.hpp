#pragma once
// The PostgreSQL mirror: one row per task in [bridge.postgres] table, written with
// libpqxx as idempotent upserts that never move a row to an older seq.

#include <memory>
#include <string>

#include "mirror/sink.hpp"
#include "src/config/config.hpp"

namespace taskd {

class postgres_sink final : public mirror_sink {
public:
  explicit postgres_sink(postgres_mirror_config cfg);
  ~postgres_sink() override;

  status prepare() override;
  status apply(const std::vector<const change_entry*>& newest,
               const std::vector<change_entry>& page) override;
  status resync_put(const std::vector<change_entry>& tasks, task_id after, bool last,
                    std::uint64_t at) override;
  void disconnect() override;

private:
  status ensure_table();
  status upsert(const std::vector<const change_entry*>& newest, bool force);

  postgres_mirror_config cfg_;
  std::string schema_; // empty: the connection's current schema
  std::string name_;
  std::string table_; // quoted, schema-qualified when configured so
  // Built once per connection (they name table_): the guarded and the forced upsert.
  std::string upsert_sql_, force_upsert_sql_, delete_sql_;
  struct connection_state;
  std::unique_ptr<connection_state> conn_;
};

/// The columns the mirror writes and their SQL types, in table order.
struct mirror_column {
  const char* name;
  const char* sql_type;
};
extern const std::vector<mirror_column> mirror_columns;

/// Why an existing table cannot take the mirror's rows ("" when it can), given its
/// columns as information_schema.columns reports them. Columns of ours that are missing
/// are not a reason (they are added), except the seed's own.
struct existing_column {
  std::string name;
  std::string data_type; // information_schema spelling: "bigint", "character varying", ...
  bool not_null_without_default = false;
};
std::string incompatibility(const std::vector<existing_column>& columns,
                            const std::vector<std::string>& primary_key);

} // namespace taskd
