// mliot: one binary for every role. See `mliot --help`.

#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "common/allocator.h"
#include "common/blas_threads.h"

int main(int argc, char** argv) {
  // Every file this process or its workers make is its owner's alone:
  // tokens, keys, the coordinator's database, task data (docs/SECURITY.md).
  umask(077);
  // Trials run in parallel on the cores; see common/blas_threads.h.
  mliot::LimitBlasToOneThread();
  // Training steps reuse freed heap memory instead of faulting in fresh pages.
  mliot::KeepFreedMemoryForReuse();
  // Every gRPC server this process builds answers grpc.health.v1.Health.
  grpc::EnableDefaultHealthCheckService(true);
  CLI::App app{"mliot: train, select and serve model ensembles for IoT"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mliot 0.1.0");
  mliot::cli::Runner train = mliot::cli::AddTrainCommand(app);
  mliot::cli::Runner eval = mliot::cli::AddEvalCommand(app);
  mliot::cli::Runner adapt = mliot::cli::AddAdaptCommand(app);
  mliot::cli::Runner bench = mliot::cli::AddBenchCommand(app);
  mliot::cli::Runner server = mliot::cli::AddServerCommands(app);
  mliot::cli::Runner client = mliot::cli::AddClientCommands(app);
  mliot::cli::Runner stream = mliot::cli::AddStreamCommands(app);
  mliot::cli::Runner lifecycle = mliot::cli::AddLifecycleCommands(app);
  mliot::cli::Runner auth = mliot::cli::AddAuthCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version print and succeed; anything else is bad input,
    // reported like every other error: one line, exit code 2.
    if (e.get_exit_code() == 0) return app.exit(e);
    return mliot::cli::Fail(
        absl::InvalidArgumentError(absl::StrCat(e.what(), " (run with --help for usage)")));
  }
  if (app.got_subcommand("train")) return train();
  if (app.got_subcommand("eval")) return eval();
  if (app.got_subcommand("adapt")) return adapt();
  if (int rc = stream(); rc >= 0) return rc;
  if (int rc = auth(); rc >= 0) return rc;
  if (app.got_subcommand("bench")) return bench();
  if (int rc = server(); rc >= 0) return rc;
  if (int rc = client(); rc >= 0) return rc;
  if (int rc = lifecycle(); rc >= 0) return rc;
  return 2;
}
