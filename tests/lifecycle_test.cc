// Model lifecycle end to end (issue 21): a real coordinator and real nodes on
// loopback, driven through `mliot versions / rollback / pin / feedback`.
//
//   * guarded promotion: feedback with permuted labels gives a version that
//     is retired, never served, while accuracy holds; correct feedback gives
//     a version that is promoted;
//   * rollback under predict load with no failed request; pin; both across
//     a coordinator restart and a node failover;
//   * retention (keep 2) on the node and the coordinator across a node
//     restart and a coordinator restart; deleted versions are listed as
//     deleted and never served.
#include <signal.h>

#include <functional>
#include <set>

#include "cluster.h"
#include "gtest/gtest.h"

namespace mliot::testing {
namespace {

// The rows of `from` with every label swapped (open <-> closed).
void WritePoisoned(const std::string& from, const std::string& to) {
  std::ifstream in(from);
  std::ofstream out(to);
  std::string line;
  std::getline(in, line);
  out << line << "\n";
  while (std::getline(in, line)) {
    const size_t comma = line.rfind(',');
    out << line.substr(0, comma + 1) << (line.substr(comma + 1) == "open" ? "closed" : "open") << "\n";
  }
}

bool WaitFor(const std::function<bool()>& done, double timeout_s) {
  const auto start = Clock::now();
  while (Since(start) < timeout_s) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

json Versions(Cluster& c, const std::string& task) {
  const RunResult r = c.Mliot({"versions", "--task", task, "--json"}, std::chrono::seconds(15));
  const json j = ParseLast(r);
  return j.is_array() ? j : json::array();
}

json FindVersion(const json& versions, int64_t v) {
  for (const json& e : versions) {
    if (e.value("version", int64_t{0}) == v) return e;
  }
  return nullptr;
}

int64_t ServingVersion(const json& versions) {
  for (const json& e : versions) {
    const std::string state = e.value("state", "");
    if (state == "serving" || state == "pinned") return e.value("version", int64_t{0});
  }
  return 0;
}

size_t StoredVersions(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) &&
        fs::exists(e.path() / "manifest.pb")) {
      ++n;
    }
  }
  return n;
}

// Sends labelled rows as feedback; the error says why when it fails.
std::string Feedback(Cluster& c, const std::string& task, const std::string& csv) {
  const RunResult r = c.Mliot({"feedback", "--task", task, "--data", "csv:" + csv, "--json"});
  return r.exit_code == 0 ? "" : "feedback failed: " + r.err;
}

TEST(LifecycleTest, GuardedPromotionRetiresPoisonedFeedbackAndPromotesCorrectFeedback) {
  Cluster c("guarded");
  WriteCsv(c.dir() + "/correct.csv", 1000, 7);
  WritePoisoned(c.dir() + "/correct.csv", c.dir() + "/poison.csv");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  const RunResult submitted = c.Mliot(
      {"submit", c.WriteSpec("door", "", 3, "logreg, knn", "versions:\n  keep: 3\n  promote: guarded\n"), "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_TRUE(c.WaitServing("door")) << c.Logs();
  const json before = c.Predict("door", "test.csv");
  ASSERT_FALSE(before.is_null()) << c.last_err();
  const int64_t first = before.value("version", int64_t{0});

  // Poisoned: the adapted version is retired on the held-back validation rows.
  ASSERT_EQ(Feedback(c, "door", c.dir() + "/poison.csv"), "");
  json retired = nullptr;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const json& v : Versions(c, "door")) {
          if (v.value("state", "") == "retired") retired = v;
        }
        return !retired.is_null();
      },
      60))
      << Versions(c, "door").dump() << "\n" << c.Logs();
  EXPECT_NE(retired.value("reason", "").find("validation rows"), std::string::npos) << retired.dump();
  EXPECT_EQ(retired.value("origin", ""), "adaptation: 1000 feedback rows");
  EXPECT_EQ(retired.value("parent", int64_t{0}), first);
  const json after_poison = c.Predict("door", "test.csv");
  ASSERT_FALSE(after_poison.is_null()) << c.last_err();
  EXPECT_EQ(after_poison.value("version", int64_t{0}), first);  // never served
  EXPECT_GE(after_poison.value("accuracy", 0.0), before.value("accuracy", 0.0) - 0.02);
  // The serving version's accuracy on that feedback is recorded.
  const json serving = FindVersion(Versions(c, "door"), first);
  ASSERT_TRUE(serving.contains("feedback_accuracy")) << serving.dump();
  EXPECT_LT(serving.value("feedback_accuracy", 1.0), 0.3) << serving.dump();
  for (const char* field : {"version", "state", "origin", "parent", "created_at", "validation_accuracy",
                            "feedback_accuracy", "bytes"}) {
    EXPECT_TRUE(serving.contains(field)) << field << " missing: " << serving.dump();
  }

  // Correct feedback: promoted, built on the serving version, not the retired one.
  ASSERT_EQ(Feedback(c, "door", c.dir() + "/correct.csv"), "");
  json promoted = nullptr;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const json& v : Versions(c, "door")) {
          if (v.value("state", "") == "serving" && v.value("version", int64_t{0}) > retired.value("version", int64_t{0})) {
            promoted = v;
          }
        }
        return !promoted.is_null();
      },
      60))
      << Versions(c, "door").dump() << "\n" << c.Logs();
  EXPECT_EQ(promoted.value("parent", int64_t{0}), first);
  const json task = c.Task("door");
  bool said = false;
  for (const json& e : task.value("events", json::array())) {
    said = said || e.get<std::string>().find("promoted") != std::string::npos;
  }
  EXPECT_TRUE(said) << task.dump();
  const json after = c.Predict("door", "test.csv");
  ASSERT_FALSE(after.is_null());
  EXPECT_EQ(after.value("version", int64_t{0}), promoted.value("version", int64_t{0}));
  EXPECT_GT(after.value("accuracy", 0.0), 0.8);
}

TEST(LifecycleTest, RollbackAndPinSurviveCoordinatorRestartAndNodeFailover) {
  Cluster c("rollback");
  WriteCsv(c.dir() + "/correct.csv", 300, 8);
  c.StartCoordinator();
  c.StartNode("A");
  c.StartNode("B");
  ASSERT_TRUE(c.WaitNodes(2)) << c.Logs();
  const RunResult submitted = c.Submit("lamp", "");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string first = ParseLast(submitted).value("node", "");
  const std::string other = first == "A" ? "B" : "A";
  ASSERT_TRUE(c.WaitServing("lamp")) << c.Logs();
  const int64_t v1 = ServingVersion(Versions(c, "lamp"));
  ASSERT_EQ(Feedback(c, "lamp", c.dir() + "/correct.csv"), "");
  ASSERT_TRUE(WaitFor([&] { return ServingVersion(Versions(c, "lamp")) > v1; }, 60)) << c.Logs();
  const int64_t v2 = ServingVersion(Versions(c, "lamp"));
  ASSERT_FALSE(c.Predict("lamp", "test.csv").is_null()) << c.last_err();

  // Rollback under a steady predict load: no failed request.
  Process load({"predict", "--coordinator", c.address(), "--task", "lamp", "--data", "csv:" + c.dir() + "/test.csv",
                "--duration-s", "5", "--json"},
               c.dir() + "/load.log");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const RunResult rolled = c.Mliot({"rollback", "--task", "lamp", "--to", std::to_string(v1), "--json"});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.err << c.Logs();
  const json r = ParseLast(rolled);
  const int64_t copy = r.value("version", int64_t{0});
  EXPECT_GT(copy, v2);
  EXPECT_EQ(r.value("to", int64_t{0}), v1);
  EXPECT_LT(r.value("serving_after_ms", 1e9), 5000.0) << r.dump();
  while (load.running()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const json steady = json::parse(LastLine(load.Log()), nullptr, false);
  ASSERT_TRUE(steady.is_object()) << load.Log();
  EXPECT_EQ(steady.value("failed", -1), 0) << steady.dump();
  EXPECT_EQ(steady.value("version", int64_t{0}), copy) << steady.dump();
  const json copied = FindVersion(Versions(c, "lamp"), copy);
  EXPECT_EQ(copied.value("origin", ""), "rollback to " + std::to_string(v1)) << copied.dump();
  EXPECT_EQ(copied.value("parent", int64_t{0}), v1);

  // Pin v2; the coordinator restarts; the pin holds.
  ASSERT_EQ(c.Mliot({"pin", "--task", "lamp", "--version", std::to_string(v2)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return ServingVersion(Versions(c, "lamp")) == v2; }, 20)) << Versions(c, "lamp").dump();
  const RunResult refused = c.Mliot({"rollback", "--task", "lamp", "--to", std::to_string(v1)});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("pinned"), std::string::npos) << refused.err;
  c.coordinator().Stop(SIGKILL);
  c.StartCoordinator();
  ASSERT_TRUE(c.WaitNodes(2)) << c.Logs();
  EXPECT_EQ(c.Task("lamp").value("pinned_version", int64_t{0}), v2);
  // New feedback still builds a version; it is not served while pinned.
  // (Right after the restart the coordinator learns the serving address
  // from the node's next heartbeat: until then the client is told no.)
  ASSERT_TRUE(WaitFor([&] { return Feedback(c, "lamp", c.dir() + "/correct.csv").empty(); }, 20)) << c.Logs();
  ASSERT_TRUE(WaitFor([&] { return Versions(c, "lamp").size() >= static_cast<size_t>(copy + 1); }, 60))
      << Versions(c, "lamp").dump();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(ServingVersion(Versions(c, "lamp")), v2);
  const json pinned_predict = c.Predict("lamp", "test.csv");
  ASSERT_FALSE(pinned_predict.is_null()) << c.last_err();
  EXPECT_EQ(pinned_predict.value("version", int64_t{0}), v2);

  // The node dies: the other node serves the pinned version.
  c.node(first).Stop(SIGKILL);
  json after = nullptr;
  ASSERT_TRUE(WaitFor(
      [&] {
        after = c.Predict("lamp", "test.csv");
        return !after.is_null() && after.value("node", "") == other;
      },
      40))
      << c.Logs();
  EXPECT_EQ(after.value("version", int64_t{0}), v2);
  // Cleared: the newest version serves again.
  ASSERT_EQ(c.Mliot({"pin", "--task", "lamp", "--clear"}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return ServingVersion(Versions(c, "lamp")) > copy; }, 20)) << Versions(c, "lamp").dump();
  EXPECT_EQ(c.Task("lamp").value("pinned_version", int64_t{-1}), 0);
  // A rollback after the coordinator restart, on the node that took over:
  // the stored command sequence carries on there.
  const RunResult again = c.Mliot({"rollback", "--task", "lamp", "--to", std::to_string(v2), "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err << c.Logs();
  const int64_t copy2 = ParseLast(again).value("version", int64_t{0});
  EXPECT_GT(copy2, copy);
  const json last = c.Predict("lamp", "test.csv");
  ASSERT_FALSE(last.is_null()) << c.last_err();
  EXPECT_EQ(last.value("node", ""), other);
  EXPECT_EQ(last.value("version", int64_t{0}), copy2);
}

TEST(LifecycleTest, RetentionKeepsFewVersionsAcrossRestartsAndNeverServesADeletedOne) {
  Cluster c("retention");
  c.StartCoordinator();
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  const RunResult submitted =
      c.Mliot({"submit", c.WriteSpec("fan", "", 3, "logreg, knn", "versions:\n  keep: 2\n"), "--json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_TRUE(c.WaitServing("fan")) << c.Logs();
  for (int i = 0; i < 6; ++i) {
    const std::string csv = c.dir() + "/fb" + std::to_string(i) + ".csv";
    WriteCsv(csv, 100, 20 + i);
    const int64_t before = ServingVersion(Versions(c, "fan"));
    ASSERT_EQ(Feedback(c, "fan", csv), "");
    ASSERT_TRUE(WaitFor([&] { return ServingVersion(Versions(c, "fan")) > before; }, 60)) << c.Logs();
  }
  const std::string node_bundle = c.dir() + "/A/tasks/fan/bundle";
  const std::string coord_bundle = c.dir() + "/coord/bundles/fan";
  // keep 2 (the serving version is the newest): at most 2 on each side, after a retention pass.
  ASSERT_TRUE(WaitFor([&] { return StoredVersions(node_bundle) <= 2 && StoredVersions(coord_bundle) <= 2; }, 20))
      << StoredVersions(node_bundle) << " on the node, " << StoredVersions(coord_bundle) << " stored";
  json versions = Versions(c, "fan");
  EXPECT_GE(versions.size(), 7u) << versions.dump();
  EXPECT_EQ(versions.front().value("state", ""), "deleted") << versions.dump();
  EXPECT_EQ(versions.front().value("bytes", int64_t{-1}), 0);
  EXPECT_GT(c.Task("fan").value("disk_bytes", int64_t{0}), 0);

  // A node restart keeps the catalog and the limit.
  c.node("A").Stop(SIGKILL);
  c.StartNode("A");
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  ASSERT_TRUE(c.WaitServing("fan")) << c.Logs();
  ASSERT_TRUE(WaitFor([&] { return Versions(c, "fan").size() >= 7u; }, 20));
  EXPECT_EQ(Versions(c, "fan").front().value("state", ""), "deleted");
  EXPECT_LE(StoredVersions(node_bundle), 2u);

  // And a coordinator restart: retention at the coordinator goes on with
  // the next version.
  c.coordinator().Stop(SIGKILL);
  c.StartCoordinator();
  ASSERT_TRUE(c.WaitNodes(1)) << c.Logs();
  {
    ASSERT_TRUE(WaitFor([&] { return ServingVersion(Versions(c, "fan")) > 0; }, 20));  // the node reported
    const int64_t before = ServingVersion(Versions(c, "fan"));
    WriteCsv(c.dir() + "/fb-last.csv", 100, 40);
    ASSERT_TRUE(WaitFor([&] { return Feedback(c, "fan", c.dir() + "/fb-last.csv").empty(); }, 20)) << c.Logs();
    ASSERT_TRUE(WaitFor([&] { return ServingVersion(Versions(c, "fan")) > before; }, 60)) << c.Logs();
  }
  ASSERT_TRUE(WaitFor([&] { return StoredVersions(node_bundle) <= 2 && StoredVersions(coord_bundle) <= 2; }, 20))
      << StoredVersions(node_bundle) << " on the node, " << StoredVersions(coord_bundle) << " stored";

  // Deleted versions cannot be pinned or rolled back to.
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"pin", "--task", "fan", "--version", "1"},
        std::vector<std::string>{"rollback", "--task", "fan", "--to", "1"}}) {
    const RunResult r = c.Mliot(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.err.find("deleted"), std::string::npos) << r.err;
  }
  // Files removed by hand: listed as deleted, and a pin naming it was refused
  // above; the serving version keeps answering.
  const int64_t serving = ServingVersion(Versions(c, "fan"));
  int64_t other = 0;
  for (const json& v : Versions(c, "fan")) {
    if (v.value("state", "") == "retained") other = v.value("version", int64_t{0});
  }
  ASSERT_GT(other, 0) << Versions(c, "fan").dump();
  fs::remove_all(node_bundle + "/" + std::to_string(other));
  fs::remove_all(coord_bundle + "/" + std::to_string(other));
  ASSERT_TRUE(WaitFor([&] { return FindVersion(Versions(c, "fan"), other).value("state", "") == "deleted"; }, 10));
  const json p = c.Predict("fan", "test.csv");
  ASSERT_FALSE(p.is_null()) << c.last_err();
  EXPECT_EQ(p.value("version", int64_t{0}), serving);
}

}  // namespace
}  // namespace mliot::testing
