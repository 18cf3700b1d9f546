#include "lifecycle/retention.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "lifecycle/publish.h"
#include "lifecycle/version_catalog.h"
#include "mliot/v1/bundle.pb.h"
#include "serve/bundle_reader.h"

namespace mliot {
namespace fs = std::filesystem;

std::vector<int64_t> ApplyRetention(const std::string& dir, const RetentionPolicy& policy,
                                    const std::set<int64_t>& protect, int64_t now_unix_ms,
                                    const std::set<int64_t>& retired) {
  const std::vector<int64_t> versions = VersionNumbers(dir);
  std::vector<int64_t> deleted;
  if (versions.empty()) return deleted;
  const int64_t max_age_ms = policy.keep_days > 0 ? static_cast<int64_t>(policy.keep_days * 86400e3) : 0;
  std::map<int64_t, v1::BundleManifest> manifests;
  for (int64_t v : versions) (void)ReadManifest(dir, v, &manifests[v]);
  // Who gets the `keep` slots: the newest, then the newest not retired, then retired.
  std::vector<int64_t> order = {versions.back()};
  for (int pass = 0; pass < 2; ++pass) {
    for (auto it = versions.rbegin() + 1; it != versions.rend(); ++it) {
      if ((retired.count(*it) > 0) == (pass == 1)) order.push_back(*it);
    }
  }
  // Protected versions take a slot too when they come up, so a serving
  // version that is also the newest counts as one of the `keep`.
  std::set<int64_t> kept;
  int64_t slots = std::max<int64_t>(1, policy.keep);
  for (int64_t v : order) {
    if (protect.count(v)) {
      kept.insert(v);
      --slots;
      continue;
    }
    const bool too_old = max_age_ms > 0 && now_unix_ms - manifests[v].created_unix_ms() > max_age_ms;
    if (slots > 0 && (v == versions.back() || !too_old)) {
      kept.insert(v);
      --slots;
    }
  }
  std::set<std::string> batches_kept;
  for (int64_t v : versions) {
    if (kept.count(v)) {
      for (const std::string& b : manifests[v].feedback_batches()) batches_kept.insert(b);
      continue;
    }
    const std::string from = absl::StrCat(dir, "/", v);
    const std::string doomed = absl::StrCat(dir, "/.deleted-", v, "-", getpid());
    std::error_code ec;
    fs::rename(from, doomed, ec);
    if (ec) continue;
    fs::remove_all(doomed, ec);
    deleted.push_back(v);
  }
  if (deleted.empty()) return deleted;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const fs::directory_entry& e : fs::directory_iterator(dir + "/data", ec)) {
    const std::string name = e.path().filename().string();
    if (!absl::StartsWith(name, "fb-")) continue;
    const std::string batch = name.substr(0, name.find('.'));
    if (batches_kept.count(batch)) continue;
    std::error_code age_ec;
    if (now - fs::last_write_time(e.path(), age_ec) < std::chrono::minutes(1)) continue;
    fs::remove(e.path(), age_ec);
  }
  return deleted;
}

absl::StatusOr<int64_t> PublishRollback(const std::string& dir, int64_t to) {
  v1::BundleManifest m;
  if (absl::Status s = ReadManifest(dir, to, &m); !s.ok()) {
    return absl::NotFoundError(absl::StrCat("version ", to, " cannot be served: its files are gone (", s.message(), ")"));
  }
  MLIOT_ASSIGN_OR_RETURN(int64_t latest, LatestBundleVersion(dir));
  const std::string from = absl::StrCat(dir, "/", to);
  const std::string tmp = absl::StrCat(dir, "/.tmp-rollback-", to, "-", getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(tmp, ": cannot create: ", ec.message()));
  for (const fs::directory_entry& e : fs::directory_iterator(from, ec)) {
    const std::string name = e.path().filename().string();
    if (name == "manifest.pb" || !e.is_regular_file()) continue;
    const std::string target = absl::StrCat(tmp, "/", name);
    std::error_code link_ec;
    fs::create_hard_link(e.path(), target, link_ec);  // weights are never written in place
    if (link_ec) fs::copy_file(e.path(), target, fs::copy_options::overwrite_existing, link_ec);
    if (link_ec) {
      fs::remove_all(tmp, ec);
      return absl::UnavailableError(absl::StrCat(target, ": ", link_ec.message()));
    }
  }
  m.set_version(latest + 1);
  m.set_parent(to);
  m.set_origin(absl::StrCat("rollback to ", to));
  m.set_created_unix_ms(NowUnixMs());
  MLIOT_RETURN_IF_ERROR(WriteManifest(tmp + "/manifest.pb", m));
  return PublishVersionDirectory(dir, tmp, &m, 0);
}

}  // namespace mliot
