#include "cli/demo.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_util.h"
#include "cli/client.h"
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
      "device:\n  require: \"locality == 'local'\"\n",
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
  // Stream the test set in chunks, printing a live line per chunk.
  constexpr int64_t kChunk = 1000;
  int64_t seen = 0, correct_weighted = 0, failed = 0;
  std::vector<double> p50s, p99s;
  auto stream = [&](int64_t begin, int64_t end) -> absl::Status {
    for (int64_t i = begin; i < end && !stop.load(); i += kChunk) {
      std::vector<int64_t> idx;
      for (int64_t j = i; j < std::min(end, i + kChunk); ++j) idx.push_back(j);
      const Dataset part = test->Subset(idx);
      absl::StatusOr<Client::PredictResult> r = client->Predict(task, part);
      if (!r.ok()) return r.status();
      seen += r->n;
      failed += r->failed;
      correct_weighted += static_cast<int64_t>(r->accuracy * static_cast<double>(r->labelled) + 0.5);
      Say(absl::StrFormat("  %5d predictions  accuracy %.4f  latency p50 %.3f ms  p99 %.3f ms  version %d  failed %d",
                          seen, static_cast<double>(correct_weighted) / std::max<int64_t>(1, seen), r->p50_ms,
                          r->p99_ms, r->version, failed));
    }
    return absl::OkStatus();
  };
  const int64_t half = test->rows / 2;
  if (absl::Status s = stream(0, half); !s.ok()) return Fail(s);
  // Feedback: the true labels of some test images, as a user correcting the
  // system would give them; adaptation publishes the next version.
  absl::StatusOr<v1::TaskInfo> before = client->GetTask(task, false);
  std::vector<int64_t> fb_rows;
  for (int64_t j = 0; j < std::min<int64_t>(o.feedback_rows, half); ++j) fb_rows.push_back(j);
  absl::StatusOr<int64_t> accepted = client->Feedback(task, test->Subset(fb_rows));
  if (!accepted.ok()) return Fail(accepted.status());
  Say(absl::StrFormat("demo: gave %d feedback rows; the training worker re-fits while serving continues", *accepted));
  if (absl::Status s = stream(half, test->rows); !s.ok()) return Fail(s);
  absl::StatusOr<v1::TaskInfo> after = client->GetTask(task, false);
  Say(absl::StrFormat("demo: %d predictions, accuracy %.4f, %d failed; version %d -> %d", seen,
                      static_cast<double>(correct_weighted) / std::max<int64_t>(1, seen), failed,
                      before.ok() ? before->version() : 0, after.ok() ? after->version() : 0));
  return failed == 0 ? 0 : 1;
}

}  // namespace mliot::cli
