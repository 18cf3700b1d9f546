// RealFft: the forward FFT of a real frame, from a library.
//
//   RealFft fft(512);
//   std::complex<float> spectrum[257];
//   fft.Forward(frame, spectrum);   // frame: 512 floats
//
// Two backends: FFTW 3 (single precision; the default, fastest here) and
// kissfft (BSD-licensed; chosen with MLIOT_FFT=kissfft in the environment,
// or explicitly). docs/FEATURES.md has the measurements and the licensing
// note. Thread-safety: Forward may be called concurrently (per-thread
// buffers and kissfft state); construction takes a process-wide lock because
// FFTW's planner is not thread-safe.
#ifndef MLIOT_FEATURES_FFT_H_
#define MLIOT_FEATURES_FFT_H_

#include <complex>
#include <memory>
#include <string>

namespace mliot {

enum class FftBackend { kFftw, kKissFft };

// MLIOT_FFT=kissfft selects kissfft; anything else (or unset) FFTW.
FftBackend DefaultFftBackend();
std::string FftBackendName(FftBackend backend);

class RealFft {
 public:
  // `n` >= 2 samples per frame.
  explicit RealFft(int n, FftBackend backend = DefaultFftBackend());
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  int size() const { return n_; }
  FftBackend backend() const { return backend_; }
  // in: size() floats; out: size() / 2 + 1 bins (DC .. Nyquist).
  void Forward(const float* in, std::complex<float>* out) const;

 private:
  int n_;
  FftBackend backend_;
  void* plan_ = nullptr;  // fftwf_plan for kFftw
};

}  // namespace mliot

#endif  // MLIOT_FEATURES_FFT_H_
