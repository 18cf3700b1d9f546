// The `mliot` subcommands, each in its own file. Add*Command registers the
// subcommand on `app`; the returned callback runs it after parsing and
// returns the process exit code.
#ifndef MLIOT_CLI_COMMANDS_H_
#define MLIOT_CLI_COMMANDS_H_

#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace mliot::cli {

using Runner = std::function<int()>;

Runner AddTrainCommand(CLI::App& app);
Runner AddEvalCommand(CLI::App& app);
Runner AddAdaptCommand(CLI::App& app);
// Every `bench` subcommand (src/bench/ runs them).
Runner AddBenchCommand(CLI::App& app);
// bench transport, cache, stream-train, data-parallel (bench_data_path_commands.cc),
// registered by AddBenchCommand; each returns -1 when it was not chosen.
std::vector<Runner> AddDataPathBenchCommands(CLI::App* bench);
// coordinator, node, worker, up: returns -1 when none of them was chosen.
Runner AddServerCommands(CLI::App& app);
// nodes, submit, tasks, wait, predict, feedback, cancel: -1 likewise.
Runner AddClientCommands(CLI::App& app);
// versions, rollback, pin (model lifecycle): -1 likewise.
Runner AddLifecycleCommands(CLI::App& app);
// token rotate (cli/auth_commands.cc).
Runner AddAuthCommands(CLI::App& app);
// device simulate, monitor: -1 likewise.
Runner AddStreamCommands(CLI::App& app);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_COMMANDS_H_
