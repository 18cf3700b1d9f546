#include "cli/cli_util.h"

#include <cstdio>
#include <iostream>

#include "common/status_util.h"

namespace mliot::cli {

int Fail(const absl::Status& status) {
  std::string message(status.message());
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::fprintf(stderr, "mliot: error: %s\n", message.c_str());
  return ExitCodeFor(status);
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

nlohmann::json ParamsJson(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : params.values()) {
    std::visit([&](const auto& v) { out[name] = v; }, value);
  }
  return out;
}

void PrintJson(const nlohmann::json& value) {
  std::cout << value.dump() << std::endl;
}

}  // namespace mliot::cli
