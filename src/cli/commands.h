// The `mliot` subcommands, each in its own file. Add*Command registers the
// subcommand on `app`; the returned callback runs it after parsing and
// returns the process exit code.
#ifndef MLIOT_CLI_COMMANDS_H_
#define MLIOT_CLI_COMMANDS_H_

#include <functional>

namespace CLI {
class App;
}

namespace mliot::cli {

using Runner = std::function<int()>;

Runner AddTrainCommand(CLI::App& app);
Runner AddEvalCommand(CLI::App& app);
Runner AddAdaptCommand(CLI::App& app);
Runner AddBenchCommand(CLI::App& app);
// `bench scheduler`, registered by AddBenchCommand; *runner returns -1 when
// it was not chosen.
void AddBenchSchedulerCommand(CLI::App* bench, std::function<int()>* runner);
// coordinator, node, worker, up: returns -1 when none of them was chosen.
Runner AddServerCommands(CLI::App& app);
// nodes, submit, tasks, wait, predict, feedback, cancel: -1 likewise.
Runner AddClientCommands(CLI::App& app);
// device simulate, bench transport (under `bench`): -1 likewise.
Runner AddStreamCommands(CLI::App& app, CLI::App* bench);
// bench cache, bench stream-train, bench data-parallel: -1 likewise.
Runner AddDataPathBenchCommands(CLI::App* bench);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_COMMANDS_H_
