#include "stream/cache_tiers.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "mliot/v1/sample.pb.h"

namespace mliot::stream {
namespace {

absl::Status LmdbError(const std::string& what, int rc) {
  return absl::InternalError(absl::StrCat("lmdb ", what, ": ", mdb_strerror(rc)));
}

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

}  // namespace

// ------------------------------------------------------------ DiskTier

absl::StatusOr<std::unique_ptr<DiskTier>> DiskTier::Open(const std::string& dir, int64_t capacity_bytes) {
  if (capacity_bytes < 0) return absl::InvalidArgumentError("disk tier: capacity must not be negative");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("disk tier ", dir, ": ", ec.message()));
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return LmdbError("env_create", rc);
  // Page and B-tree overhead: reserve three times the budget plus slack.
  const size_t map_size = static_cast<size_t>(capacity_bytes) * 3 + (64u << 20);
  int rc = mdb_env_set_mapsize(env, map_size);
  // A cache: no fsync per commit (the archive is the durable copy), and
  // writes straight into the memory map instead of a write() per page.
  if (rc == 0) rc = mdb_env_open(env, dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_MAPASYNC, 0644);
  if (rc != 0) {
    mdb_env_close(env);
    return LmdbError(absl::StrCat("open ", dir), rc);
  }
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi);
  if (rc == 0) rc = mdb_txn_commit(txn);
  if (rc != 0) {
    mdb_env_close(env);
    return LmdbError("dbi_open", rc);
  }
  return std::unique_ptr<DiskTier>(new DiskTier(env, dbi, capacity_bytes));
}

DiskTier::~DiskTier() { mdb_env_close(env_); }

absl::Status DiskTier::Put(const std::string& id, std::string_view bytes) {
  if (capacity_ == 0 || static_cast<int64_t>(bytes.size()) > capacity_ || sizes_.contains(id)) {
    return absl::OkStatus();
  }
  while (bytes_ + static_cast<int64_t>(bytes.size()) > capacity_ && !order_.empty()) {
    const std::string oldest = std::move(order_.front());
    order_.pop_front();
    if (absl::Status s = Erase(oldest); !s.ok()) return s;
  }
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return LmdbError("txn_begin", rc);
  MDB_val key = Val(id), val = Val(bytes);
  int rc = mdb_put(txn, dbi_, &key, &val, 0);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return LmdbError("put", rc);
  }
  if (rc = mdb_txn_commit(txn); rc != 0) return LmdbError("commit", rc);
  sizes_[id] = static_cast<int64_t>(bytes.size());
  order_.push_back(id);
  bytes_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::Status DiskTier::Erase(const std::string& id) {
  auto it = sizes_.find(id);
  if (it == sizes_.end()) return absl::OkStatus();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) return LmdbError("txn_begin", rc);
  MDB_val key = Val(id);
  int rc = mdb_del(txn, dbi_, &key, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return LmdbError("del", rc);
  }
  if (rc = mdb_txn_commit(txn); rc != 0) return LmdbError("commit", rc);
  bytes_ -= it->second;
  sizes_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> DiskTier::Get(const std::string& id) const {
  if (!sizes_.contains(id)) return std::optional<std::string>();
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) return LmdbError("txn_begin", rc);
  MDB_val key = Val(id), val{};
  const int rc = mdb_get(txn, dbi_, &key, &val);
  std::optional<std::string> out;
  if (rc == 0) out.emplace(static_cast<const char*>(val.mv_data), val.mv_size);
  mdb_txn_abort(txn);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("get", rc);
  return out;
}

// --------------------------------------------------------- ArchiveTier

absl::StatusOr<std::unique_ptr<ArchiveTier>> ArchiveTier::Open(const std::string& dir, int64_t segment_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("archive ", dir, ": ", ec.message()));
  std::unique_ptr<ArchiveTier> a(new ArchiveTier(dir, std::max<int64_t>(segment_bytes, 1 << 16)));
  if (absl::Status s = a->Scan(); !s.ok()) return s;
  return a;
}

ArchiveTier::~ArchiveTier() {
  for (int fd : fds_) close(fd);
}

std::string ArchiveTier::SegmentPath(int segment) const {
  return absl::StrFormat("%s/segment-%06d.seg", dir_, segment);
}

absl::Status ArchiveTier::Scan() {
  for (int segment = 0;; ++segment) {
    const std::string path = SegmentPath(segment);
    if (!std::filesystem::exists(path)) break;
    const int fd = open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) return ErrnoError(absl::StrCat("open ", path));
    fds_.push_back(fd);
    struct stat st {};
    fstat(fd, &st);
    int64_t offset = 0;
    std::string record;
    while (offset + 4 <= st.st_size) {
      uint32_t length = 0;
      if (pread(fd, &length, 4, offset) != 4 || offset + 4 + length > st.st_size) break;
      record.resize(length);
      if (pread(fd, record.data(), length, offset + 4) != static_cast<ssize_t>(length)) break;
      v1::Sample sample;
      if (!sample.ParseFromString(record)) break;
      if (index_.emplace(sample.id(), Location{segment, offset + 4, length}).second) {
        recovered_.push_back(sample.id());
      }
      offset += 4 + length;
    }
    if (offset < st.st_size) {
      // A torn tail (crash mid-append): cut it so appends stay parseable.
      ++torn_;
      if (ftruncate(fd, offset) != 0) return ErrnoError(absl::StrCat("truncate ", path));
    }
    tail_ = offset;
  }
  if (fds_.empty()) return Roll();
  return absl::OkStatus();
}

absl::Status ArchiveTier::Roll() {
  const std::string path = SegmentPath(static_cast<int>(fds_.size()));
  const int fd = open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(absl::StrCat("create ", path));
  fds_.push_back(fd);
  tail_ = 0;
  return absl::OkStatus();
}

absl::Status ArchiveTier::Append(const std::string& id, std::string_view bytes) {
  if (index_.contains(id)) return absl::OkStatus();  // a redelivered duplicate
  if (tail_ > 0 && tail_ + 4 + static_cast<int64_t>(bytes.size()) > segment_bytes_) {
    if (absl::Status s = Roll(); !s.ok()) return s;
  }
  std::string record(4 + bytes.size(), '\0');
  const uint32_t length = static_cast<uint32_t>(bytes.size());
  std::memcpy(record.data(), &length, 4);
  std::memcpy(record.data() + 4, bytes.data(), bytes.size());
  const int fd = fds_.back();
  if (write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
    return ErrnoError(absl::StrCat("append ", SegmentPath(static_cast<int>(fds_.size()) - 1)));
  }
  index_[id] = Location{static_cast<int>(fds_.size()) - 1, tail_ + 4, length};
  tail_ += static_cast<int64_t>(record.size());
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> ArchiveTier::Get(const std::string& id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return std::optional<std::string>();
  std::string out(it->second.length, '\0');
  if (pread(fds_[static_cast<size_t>(it->second.segment)], out.data(), out.size(), it->second.offset) !=
      static_cast<ssize_t>(out.size())) {
    return ErrnoError(absl::StrCat("read ", SegmentPath(it->second.segment)));
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace mliot::stream
