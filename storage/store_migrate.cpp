// Opening a data directory written by an earlier version: the indexes it retired.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>

#include "storage/keys.hpp"
#include "storage/rocks_support.hpp"
#include "storage/store.hpp"

namespace taskd {

using rocks::from_status;
using rocks::view;

namespace {

bool has_key_with_tag(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, char tag,
                      rocksdb::Status& st) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), cf));
  it->Seek(rocksdb::Slice(&tag, 1));
  st = it->status();
  return it->Valid() && it->key().size() > 0 && it->key()[0] == tag;
}

rocksdb::Status delete_tagged(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, char tag) {
  const char from = tag, to = static_cast<char>(tag + 1);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return db.DeleteRange(wo, cf, rocksdb::Slice(&from, 1), rocksdb::Slice(&to, 1));
}

} // namespace

// Timeline keys ('c' id seq) become each record's change_seqs. The records are written
// (synced) before the keys are dropped, and a record's seqs are replaced, not appended:
// a crash midway leaves the keys, and the next open redoes the same work.
status store::migrate_retired_indexes() {
  rocksdb::Status st;
  std::size_t timelines = 0;
  if (has_key_with_tag(*db_, index_cf_, keys::retired_timeline_tag, st)) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), index_cf_));
    rocksdb::WriteBatch batch;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    task_id id = 0;
    std::vector<std::uint64_t> seqs;
    auto flush_task = [&]() -> rocksdb::Status {
      if (id == 0) return rocksdb::Status::OK();
      std::string v;
      auto s = db_->Get(rocksdb::ReadOptions(), tasks_cf_, keys::task_key(id), &v);
      if (s.IsNotFound()) return rocksdb::Status::OK(); // a leftover of a deleted task
      if (!s.ok()) return s;
      auto t = decode_task(v);
      if (!t) return rocksdb::Status::OK(); // corrupt: reads report it, as before
      if (seqs.size() > task_timeline_max) seqs.erase(seqs.begin(), seqs.end() - task_timeline_max);
      t->change_seqs = std::move(seqs);
      seqs.clear();
      ++timelines;
      s = batch.Put(tasks_cf_, keys::task_key(id), encode_task(*t));
      if (s.ok() && batch.Count() >= 1000) {
        s = db_->Write(wo, &batch);
        batch.Clear();
      }
      return s;
    };
    const char tag = keys::retired_timeline_tag;
    for (it->Seek(rocksdb::Slice(&tag, 1));
         it->Valid() && it->key().size() == 17 && it->key()[0] == tag; it->Next()) {
      auto k = view(it->key());
      task_id key_id = keys::get_u64(k, 1);
      if (key_id != id) {
        if (st = flush_task(); !st.ok()) return from_status(st, "migrate timelines");
        id = key_id;
        seqs.clear();
      }
      seqs.push_back(keys::get_u64(k, 9));
    }
    if (!it->status().ok()) return from_status(it->status(), "read timelines");
    if (st = flush_task(); !st.ok()) return from_status(st, "migrate timelines");
    if (batch.Count() > 0) {
      if (st = db_->Write(wo, &batch); !st.ok()) return from_status(st, "migrate timelines");
    }
    if (st = delete_tagged(*db_, index_cf_, keys::retired_timeline_tag); !st.ok())
      return from_status(st, "drop the timeline index");
  } else if (!st.ok()) {
    return from_status(st, "read timelines");
  }
  bool had_type_index = has_key_with_tag(*db_, index_cf_, keys::retired_type_tag, st);
  if (!st.ok()) return from_status(st, "read the type index");
  if (had_type_index) {
    if (st = delete_tagged(*db_, index_cf_, keys::retired_type_tag); !st.ok())
      return from_status(st, "drop the type index");
  }
  if (timelines > 0 || had_type_index)
    spdlog::info("data directory upgraded: {} task timelines moved into their records{}", timelines,
                 had_type_index ? ", type index dropped" : "");
  return ok_status();
}

} // namespace taskd
