#include "ml/neural/torch_loader.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blas_threads.h"

namespace mliot::neural {
namespace {

constexpr char kModuleFile[] = "libmliot_torch.so";
std::atomic<bool> loaded{false};

std::vector<std::string> Candidates() {
  if (const char* env = std::getenv("MLIOT_TORCH_MODULE"); env != nullptr && *env != '\0') return {env};
  std::vector<std::string> paths;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    paths.push_back((exe.parent_path() / kModuleFile).string());
    paths.push_back((exe.parent_path() / ".." / "lib" / "mliot" / kModuleFile).lexically_normal().string());
  }
#ifdef MLIOT_TORCH_MODULE_BUILD_PATH
  paths.push_back(MLIOT_TORCH_MODULE_BUILD_PATH);
#endif
  return paths;
}

absl::StatusOr<const TorchModuleApi*> Load() {
  std::vector<std::string> tried;
  for (const std::string& path : Candidates()) {
    if (!std::filesystem::exists(path)) {
      tried.push_back(absl::StrCat(path, ": not found"));
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      tried.push_back(dlerror());
      continue;
    }
    using Entry = const TorchModuleApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, "mliot_torch_module"));
    if (entry == nullptr) {
      tried.push_back(absl::StrCat(path, ": no mliot_torch_module symbol"));
      continue;
    }
    const TorchModuleApi* api = entry();
    if (api == nullptr || api->abi != kTorchModuleAbi) {
      tried.push_back(absl::StrCat(path, ": built for another mliot (module ABI ", api ? api->abi : -1, ", want ",
                                   kTorchModuleAbi, ")"));
      continue;
    }
    loaded = true;
    LimitBlasToOneThread(handle);  // libtorch brings OpenBLAS
    return api;  // never unloaded: libtorch does not support it
  }
  return absl::FailedPreconditionError(
      absl::StrCat("mlp and cnn training needs the torch module (", kModuleFile,
                   "; set MLIOT_TORCH_MODULE to its path): ", absl::StrJoin(tried, "; ")));
}

}  // namespace

absl::StatusOr<const TorchModuleApi*> TorchModule() {
  static const absl::StatusOr<const TorchModuleApi*>* module = new absl::StatusOr<const TorchModuleApi*>(Load());
  return *module;
}

bool TorchModuleLoaded() { return loaded.load(); }

}  // namespace mliot::neural
