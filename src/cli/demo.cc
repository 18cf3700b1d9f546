#include "cli/demo.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <vector>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_util.h"
#include "cli/client.h"
#include "common/stats.h"
#include "data/source.h"

namespace mliot::cli {
namespace {

void Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

int RunDemo(const DemoOptions& o, const std::atomic<bool>& stop) {
  absl::StatusOr<Client> client = Client::Connect(o.coordinator, o.tls);
  if (!client.ok()) return Fail(client.status());
  const std::string task = "fashion-mnist-demo";
  const std::string spec = absl::StrFormat(
      "name: %s\ndata: fashion-mnist:train:%d\nmodel:\n  budget_s: %g\n  time_bound_s: %g\n"
      "device:\n  require: \"locality == 'local'\"\n"
      // Two versions besides the serving one on the node and at the
      // coordinator: the data directory stays under 100 MB however long the
      // demo runs (docs/LIFECYCLE.md).
      "versions:\n  keep: 2\n",
      task, o.train_rows, o.budget_s, std::max(5.0, o.budget_s / 3));
  {
    // A demo task from an earlier run is replaced.
    grpc::ClientContext ctx;
    v1::CancelRequest cancel;
    cancel.set_task(task);
    v1::CancelResponse ignored;
    (void)client->coordinator().Cancel(&ctx, cancel, &ignored);
  }
  v1::SubmitRequest request;
  request.set_spec_yaml(spec);
  v1::SubmitResponse response;
  grpc::ClientContext ctx;
  if (grpc::Status s = client->coordinator().Submit(&ctx, request, &response); !s.ok()) {
    return Fail(absl::UnavailableError(s.error_message()));
  }
  if (!response.accepted()) return Fail(absl::FailedPreconditionError("the demo task was refused"));
  Say(absl::StrFormat("demo: task %s placed on node %s; training on %d Fashion-MNIST images for up to %gs",
                      task, response.node(), o.train_rows, o.budget_s));
  // Wait until it serves (version 1 arrives at the time bound).
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  absl::StatusOr<v1::TaskInfo> info;
  while (!stop.load()) {
    info = client->GetTask(task, false);
    if (info.ok() && info->phase() == v1::TASK_PHASE_SERVING && !info->serving_address().empty()) break;
    if (info.ok() && info->phase() == v1::TASK_PHASE_FAILED) {
      return Fail(absl::InternalError(absl::StrCat("demo task failed: ", info->message())));
    }
    if (elapsed() > o.budget_s * 3 + 120) return Fail(absl::DeadlineExceededError("demo task did not start serving"));
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (stop.load()) return 130 - 128;
  Say(absl::StrFormat("demo: serving version %d at %s after %.1fs", info->version(), info->serving_address(), elapsed()));

  LoadOptions load;
  load.for_training = false;
  absl::StatusOr<Dataset> test = LoadDataset(absl::StrCat("fashion-mnist:test:", o.test_rows), load);
  if (!test.ok()) return Fail(test.status());

  // The test set's first part is the users' corrections (feedback); the rest
  // is streamed through predict, in chunks, over and over, while lazy
  // training publishes more versions and the adaptation publishes the last.
  const int64_t feedback_rows = std::min<int64_t>(o.feedback_rows, test->rows / 2);
  std::vector<int64_t> fb_idx, eval_idx;
  for (int64_t j = 0; j < test->rows; ++j) (j < feedback_rows ? fb_idx : eval_idx).push_back(j);
  const Dataset feedback = test->Subset(fb_idx);
  const Dataset eval = test->Subset(eval_idx);

  struct PerVersion {
    int64_t n = 0, correct = 0;
    std::vector<double> ms;  // per-chunk p50s are not enough for a p99: keep them all
  };
  std::map<int64_t, PerVersion> versions;
  int64_t total = 0, failed = 0, window_n = 0, window_correct = 0;
  std::vector<double> window_ms;
  constexpr int64_t kChunk = 250;
  int64_t cursor = 0;
  bool feedback_given = false;
  double last_line = elapsed(), last_poll = 0;
  const double train_done_at = o.budget_s * 1.1 + 5;
  int64_t adapted_version = -1;
  while (!stop.load()) {
    std::vector<int64_t> idx;
    for (int64_t k = 0; k < kChunk; ++k) idx.push_back((cursor + k) % eval.rows);
    cursor = (cursor + kChunk) % eval.rows;
    absl::StatusOr<Client::PredictResult> r = client->Predict(task, eval.Subset(idx));
    if (!r.ok()) return Fail(r.status());
    total += r->n;
    failed += r->failed;
    const int64_t correct = static_cast<int64_t>(r->accuracy * static_cast<double>(r->labelled) + 0.5);
    PerVersion& v = versions[r->version];
    v.n += r->n;
    v.correct += correct;
    window_n += r->n;
    window_correct += correct;
    for (double ms : r->all_ms) {
      v.ms.push_back(ms);
      window_ms.push_back(ms);
    }
    if (elapsed() - last_line >= 3) {
      Say(absl::StrFormat("  %6.1fs  %6d predictions  version %d  accuracy %.4f  latency p50 %.3f ms  p99 %.3f ms  failed %d",
                          elapsed(), total, r->version, static_cast<double>(window_correct) / std::max<int64_t>(1, window_n),
                          Percentile(window_ms, 0.5), Percentile(window_ms, 0.99), failed));
      last_line = elapsed();
      window_n = window_correct = 0;
      window_ms.clear();
    }
    if (!feedback_given && total >= eval.rows / 2) {
      absl::StatusOr<int64_t> accepted = client->Feedback(task, feedback);
      if (!accepted.ok()) return Fail(accepted.status());
      Say(absl::StrFormat("demo: gave %d feedback rows; the training worker re-fits them once training ends (~%.0fs)",
                          *accepted, train_done_at));
      feedback_given = true;
    }
    if (feedback_given && adapted_version < 0 && elapsed() - last_poll >= 1) {
      // The training worker says "adapted with N feedback rows: version V".
      last_poll = elapsed();
      absl::StatusOr<v1::TaskInfo> now = client->GetTask(task, false);
      if (now.ok() && absl::StartsWith(now->message(), "adapted with")) {
        adapted_version = now->version();
        Say(absl::StrFormat("demo: %s", now->message()));
      }
    }
    // A few thousand predictions on the adapted version, then stop.
    if (adapted_version > 0 && versions[adapted_version].n >= 3000) break;
    if (elapsed() > o.budget_s * 3 + 180) {
      Say("demo: no adapted version in time; stopping");
      break;
    }
  }
  if (stop.load()) return 130 - 128;
  Say("");
  Say(absl::StrFormat("mliot demo: Fashion-MNIST, %d training images, budget %gs, node %s", o.train_rows,
                      o.budget_s, response.node()));
  for (auto& [version, v] : versions) {
    Say(absl::StrFormat("  version %-3d %6d predictions  accuracy %.4f  latency p50 %.3f ms  p99 %.3f ms%s", version,
                        v.n, static_cast<double>(v.correct) / std::max<int64_t>(1, v.n), Percentile(v.ms, 0.5),
                        Percentile(v.ms, 0.99), version == adapted_version ? "  (after feedback)" : ""));
  }
  Say(absl::StrFormat("  %d predictions end to end over gRPC, %d failed (hot swaps included)", total, failed));
  if (absl::StatusOr<v1::TaskInfo> last = client->GetTask(task, false); last.ok()) {
    Say(absl::StrFormat("  %.1f MB of bundles on the node and the coordinator (versions: keep 2); "
                        "`mliot versions --coordinator %s --task %s` lists them",
                        last->disk_bytes() / 1e6, o.coordinator, task));
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace mliot::cli
