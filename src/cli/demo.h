// `mliot up --demo`: the Fashion-MNIST demo task end to end on the
// embedded cluster — submit, wait until it serves, stream the test set
// through predict with a live summary, give feedback, and watch the next
// bundle version take over without a failed request.
#ifndef MLIOT_CLI_DEMO_H_
#define MLIOT_CLI_DEMO_H_

#include <atomic>
#include <string>

#include "common/grpc_util.h"

namespace mliot::cli {

struct DemoOptions {
  std::string coordinator;
  TlsOptions tls;
  double budget_s = 60;
  int64_t train_rows = 10000;
  int64_t test_rows = 10000;
  int64_t feedback_rows = 1000;
};

// Returns the process exit code.
int RunDemo(const DemoOptions& options, const std::atomic<bool>& stop);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_DEMO_H_
