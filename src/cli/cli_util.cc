#include "cli/cli_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>
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

namespace mliot::cli {

std::string FindSourceFile(const std::string& relative, const std::string& hint) {
  std::vector<std::string> candidates;
  if (!hint.empty()) candidates.push_back(hint + "/" + relative);
  if (const char* dir = std::getenv("MLIOT_SOURCE_DIR")) candidates.push_back(std::string(dir) + "/" + relative);
  candidates.push_back(relative);
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((exe.parent_path().parent_path() / relative).string());
  for (const std::string& c : candidates) {
    if (std::filesystem::exists(c)) return c;
  }
  return "";
}

}  // namespace mliot::cli
