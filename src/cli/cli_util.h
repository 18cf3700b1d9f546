// Shared pieces of the `mliot` subcommands: error reporting, JSON output,
// progress lines.
#ifndef MLIOT_CLI_CLI_UTIL_H_
#define MLIOT_CLI_CLI_UTIL_H_

#include <string>

#include "absl/status/status.h"
#include "ml/params.h"
#include "nlohmann/json.hpp"

namespace mliot::cli {

// Prints "mliot: error: <message>" (one line) to stderr; returns the exit
// code for the status (2 bad input, 1 other; never >= 128).
int Fail(const absl::Status& status);

// Prints a progress line to stderr.
void Progress(const std::string& line);

// A file of the source tree (e.g. "bench/plot_resources.py"), looked up under
// `hint`, $MLIOT_SOURCE_DIR, the working directory, and the directory above
// the binary's (build/mliot); empty when not found.
std::string FindSourceFile(const std::string& relative, const std::string& hint = "");

// Params as a JSON object {name: value}.
nlohmann::json ParamsJson(const Params& params);

// One JSON object on one line to stdout.
void PrintJson(const nlohmann::json& value);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_CLI_UTIL_H_
