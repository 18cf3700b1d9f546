#include "features/fft.h"

#include <fftw3.h>
#include <kissfft/kiss_fft.h>
#include <kissfft/kiss_fftr.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace mliot {
namespace {

std::mutex& PlannerMutex() {
  static std::mutex m;
  return m;
}

// FFTW arrays of one thread, aligned by fftwf_malloc (as the plans' were).
struct FftwBuffers {
  int n = 0;
  float* in = nullptr;
  fftwf_complex* out = nullptr;
  ~FftwBuffers() {
    fftwf_free(in);
    fftwf_free(out);
  }
  void Reserve(int size) {
    if (size <= n) return;
    fftwf_free(in);
    fftwf_free(out);
    n = size;
    in = fftwf_alloc_real(static_cast<size_t>(n));
    out = fftwf_alloc_complex(static_cast<size_t>(n / 2 + 1));
  }
};

// kissfft keeps scratch space in its configuration: one per thread and size.
struct KissState {
  std::map<int, kiss_fftr_cfg> real;     // even sizes
  std::map<int, kiss_fft_cfg> complex;   // odd sizes (complex FFT of the real frame)
  std::vector<kiss_fft_cpx> in, out;
  ~KissState() {
    for (auto& [n, cfg] : real) kiss_fftr_free(cfg);
    for (auto& [n, cfg] : complex) kiss_fft_free(cfg);
  }
};

}  // namespace

FftBackend DefaultFftBackend() {
  const char* v = std::getenv("MLIOT_FFT");
  return v != nullptr && std::strcmp(v, "kissfft") == 0 ? FftBackend::kKissFft : FftBackend::kFftw;
}

std::string FftBackendName(FftBackend backend) {
  return backend == FftBackend::kFftw ? "fftw" : "kissfft";
}

RealFft::RealFft(int n, FftBackend backend) : n_(std::max(2, n)), backend_(backend) {
  if (backend_ != FftBackend::kFftw) return;
  std::lock_guard<std::mutex> lock(PlannerMutex());
  FftwBuffers scratch;
  scratch.Reserve(n_);
  // FFTW_ESTIMATE: no timing runs, so the plan (and its output) is the same
  // in every process.
  plan_ = fftwf_plan_dft_r2c_1d(n_, scratch.in, scratch.out, FFTW_ESTIMATE);
}

RealFft::~RealFft() {
  if (plan_ != nullptr) {
    std::lock_guard<std::mutex> lock(PlannerMutex());
    fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
  }
}

void RealFft::Forward(const float* in, std::complex<float>* out) const {
  const int bins = n_ / 2 + 1;
  if (backend_ == FftBackend::kFftw) {
    thread_local FftwBuffers buffers;
    buffers.Reserve(n_);
    std::memcpy(buffers.in, in, sizeof(float) * static_cast<size_t>(n_));
    fftwf_execute_dft_r2c(static_cast<fftwf_plan>(plan_), buffers.in, buffers.out);
    std::memcpy(static_cast<void*>(out), buffers.out, sizeof(fftwf_complex) * static_cast<size_t>(bins));
    return;
  }
  thread_local KissState state;
  if (n_ % 2 == 0) {
    kiss_fftr_cfg& cfg = state.real[n_];
    if (cfg == nullptr) cfg = kiss_fftr_alloc(n_, 0, nullptr, nullptr);
    // kiss_fft_cpx is two floats, laid out like std::complex<float>.
    kiss_fftr(cfg, in, reinterpret_cast<kiss_fft_cpx*>(out));
    return;
  }
  kiss_fft_cfg& cfg = state.complex[n_];
  if (cfg == nullptr) cfg = kiss_fft_alloc(n_, 0, nullptr, nullptr);
  state.in.resize(static_cast<size_t>(n_));
  state.out.resize(static_cast<size_t>(n_));
  for (int i = 0; i < n_; ++i) state.in[i] = kiss_fft_cpx{in[i], 0.0f};
  kiss_fft(cfg, state.in.data(), state.out.data());
  for (int i = 0; i < bins; ++i) out[i] = {state.out[i].r, state.out[i].i};
}

}  // namespace mliot
