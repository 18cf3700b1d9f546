// The boundary between mliot and its libtorch module (libmliot_torch.so).
//
// libtorch is only needed where a torch kind (mlp, cnn) is trained or a
// streaming model takes SGD steps. Everything else — the CLI, coordinator,
// node agent and every serving worker — runs the neural kinds' inference on
// Eigen (ml/neural/eigen_nets.h) and never maps libtorch (about 150 MiB
// and half a second per process start). The module is loaded on demand by
// ml/neural/torch_loader.h.
//
// This header is the whole contract: plain C++ types only (std, no absl,
// no protobuf, no mliot libraries), so the module links libtorch and
// nothing of mliot — no second copy of mliot's code or of its protobuf
// registrations in the process. Both sides are built by the same compiler
// from the same tree; kTorchModuleAbi guards against a stale module.
#ifndef MLIOT_ML_NEURAL_TORCH_API_H_
#define MLIOT_ML_NEURAL_TORCH_API_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mliot::neural {

inline constexpr int kTorchModuleAbi = 1;

// One named float array: a network's parameters and float buffers under
// libtorch's names ("fc0.weight", "conv1.bias", "bn1.running_var", ...).
struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
using StateDict = std::vector<NamedTensor>;

// A network's architecture.
//   mlp: `layers` x (Linear(hidden) -> ReLU -> dropout), Linear head; state
//        fc<i>.weight/bias, head.weight/bias.
//   cnn: conv3x3(channels) [bn1] ReLU maxpool2, conv3x3(2 channels) [bn2]
//        ReLU maxpool2, [global average pool | flatten], Linear(hidden)
//        ReLU dropout, Linear head; inputs are normalised with
//        (x - mean) * inv_std first.
struct NetSpec {
  std::string kind;  // "mlp" | "cnn"
  int64_t inputs = 0;
  int height = 0, width = 0;  // cnn
  int classes = 0;
  int hidden = 256;
  int layers = 2;  // mlp
  double dropout = 0.0;
  int channels = 16;  // cnn
  bool batch_norm = false;
  bool gap = false;
  float mean = 0.0f, inv_std = 1.0f;  // cnn input normalisation
};

struct TrainSpec {
  int64_t epochs = 1;
  int64_t batch_size = 64;
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  bool augment_shift = false;
  int threads = 1;
  uint64_t seed = 42;
  std::function<bool()> should_stop;         // checked after every mini-batch
  std::function<double()> remaining_seconds; // < 0: no deadline
};

struct TrainData {
  const float* x = nullptr;  // rows x inputs, row-major, raw (the module normalises cnn inputs)
  const int32_t* y = nullptr;
  int64_t rows = 0;
};

// The streaming trainer's network (stream/sgd_model.h): parameters and
// gradients in two flat buffers, inputs in [0, 1] mapped to [-1, 1].
struct SgdSpec {
  std::string kind;  // mlp: fc1, fc2 (hidden/2), head; cnn: the engine's cnn with 16 channels, no bn
  int64_t features = 0;
  int height = 0, width = 0;
  int classes = 0;
  int hidden = 256;
  double learning_rate = 1e-3;
  int threads = 1;
  uint64_t seed = 1;
};

class SgdCore {
 public:
  virtual ~SgdCore() = default;
  virtual float Backward(const float* x, const int32_t* y, int64_t n, float* losses) = 0;
  virtual void Apply() = 0;
  virtual void SetLearningRateScale(double scale) = 0;
  virtual std::span<float> GradientBuffer() = 0;
  virtual std::span<float> ParameterBuffer() = 0;
  virtual void Logits(const float* x, int64_t n, float* out) = 0;  // n x classes, inference mode
  virtual StateDict State() const = 0;                               // parameters by name
};

// Functions return an empty string on success, else the error.
struct TorchModuleApi {
  int abi = kTorchModuleAbi;
  std::string (*train)(const NetSpec& net, const TrainSpec& train, const TrainData& data, StateDict* state);
  // libtorch's forward pass in inference mode: the reference that the Eigen
  // inference path is tested against.
  std::string (*forward)(const NetSpec& net, const StateDict& state, const float* x, int64_t n, float* logits);
  std::string (*create_sgd)(const SgdSpec& spec, std::unique_ptr<SgdCore>* out);
};

}  // namespace mliot::neural

// The module's one exported symbol.
extern "C" const mliot::neural::TorchModuleApi* mliot_torch_module();

#endif  // MLIOT_ML_NEURAL_TORCH_API_H_
