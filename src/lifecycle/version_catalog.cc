#include "lifecycle/version_catalog.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"

namespace mliot {
namespace fs = std::filesystem;

std::vector<int64_t> VersionNumbers(const std::string& dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    int64_t v;
    if (!e.is_directory(ec) || !absl::SimpleAtoi(e.path().filename().string(), &v) || v < 1) continue;
    if (fs::exists(e.path() / "manifest.pb", ec)) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t DirectoryBytes(const std::string& path) {
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
  }
  return total;
}

VersionCatalog::VersionCatalog(std::string bundle_dir) : dir_(std::move(bundle_dir)) {
  absl::StatusOr<std::string> blob = ReadFile(dir_ + "/catalog.pb");
  v1::TaskStatus saved;
  if (blob.ok() && saved.ParseFromString(*blob)) {
    for (const v1::VersionStatus& v : saved.versions()) known_[v.version()] = v;
  }
}

std::vector<v1::VersionStatus> VersionCatalog::Refresh(const LifecycleState& state, int64_t pin) {
  bool changed = false;
  const std::vector<int64_t> present = VersionNumbers(dir_);
  for (int64_t v : present) {
    auto [it, inserted] = known_.try_emplace(v);
    v1::VersionStatus& s = it->second;
    if (inserted || s.state() == "deleted") {
      v1::BundleManifest m;
      if (!ReadManifest(dir_, v, &m).ok()) {
        known_.erase(it);
        continue;
      }
      s.set_version(v);
      s.set_origin(m.origin().empty() ? "training" : m.origin());
      s.set_parent(m.parent());
      s.set_created_unix_ms(m.created_unix_ms());
      s.set_validation_accuracy(m.val_accuracy());
      s.set_state("retained");
      // Measured once: a published version's files never change.
      s.set_bytes(DirectoryBytes(absl::StrCat(dir_, "/", v)));
      changed = true;
    }
  }
  // The last lazy version of a training says "lazy k of n".
  int64_t lazy_total = 0;
  for (const auto& [v, s] : known_) {
    int64_t k;
    if (absl::StartsWith(s.origin(), "lazy ") && absl::SimpleAtoi(s.origin().substr(5, s.origin().find(' ', 5) - 5), &k)) {
      lazy_total = std::max(lazy_total, k);
    }
  }
  std::vector<v1::VersionStatus> out;
  for (auto& [v, s] : known_) {
    const bool exists = std::binary_search(present.begin(), present.end(), v);
    std::string st;
    if (!exists) st = "deleted";
    else if (v == pin) st = "pinned";
    else if (v == state.serving) st = "serving";
    else if (v == state.shadow) st = "shadow";
    else if (state.retired.count(v)) st = "retired";
    else st = "retained";
    if (st == "deleted" && s.state() != "deleted") {
      s.set_bytes(0);
      changed = true;
    }
    if (st == "deleted" || s.state() == "deleted") s.set_state(st);  // persisted: "deleted" matters after restarts
    v1::VersionStatus r = s;
    r.set_state(st);
    r.set_stored(exists ? "node" : "");
    if (auto it = state.retired.find(v); it != state.retired.end()) r.set_reason(it->second);
    if (auto it = state.validation.find(v); it != state.validation.end()) r.set_validation_accuracy(it->second);
    if (auto it = state.feedback.find(v); it != state.feedback.end() && it->second.rows > 0) {
      r.set_feedback_accuracy(static_cast<double>(it->second.correct) / static_cast<double>(it->second.rows));
      r.set_feedback_rows(it->second.rows);
    } else {
      r.set_feedback_accuracy(-1);
    }
    int64_t k;
    if (lazy_total > 0 && absl::StartsWith(r.origin(), "lazy ") && r.origin().find(" of ") == std::string::npos &&
        absl::SimpleAtoi(r.origin().substr(5), &k)) {
      r.set_origin(absl::StrCat("lazy ", k, " of ", lazy_total));
    }
    out.push_back(std::move(r));
  }
  if (changed) {
    v1::TaskStatus saved;
    for (const auto& [v, s] : known_) *saved.add_versions() = s;
    (void)WriteFileAtomically(dir_ + "/catalog.pb", saved.SerializeAsString());
  }
  return out;
}

}  // namespace mliot
