// Dropout: mask generation and scaling fused in one elementwise pass (an ISA-cloned body per
// thread range). The RNG is a pure function of (seed, index): see dropout.h.
#include <cmath>
#include "dropout.h"
#include "nnk_common.h"

namespace nnk {

uint64_t dropout_threshold(double p) { return static_cast<uint64_t>(std::ceil(std::ldexp(p, 53))); }

namespace {

NNK_INLINE uint64_t splitmix64(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <class T>
NNK_INLINE void dropout_forward_range(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, uint8_t* NNK_RESTRICT mask,
                                      uint64_t seed, uint64_t thr, T scale, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    const bool keep = (splitmix64(seed, uint64_t(i)) >> 11) >= thr;
    mask[i] = keep;
    y[i] = keep ? x[i] * scale : T(0);
  }
}
template <class T>
NNK_INLINE void dropout_scale_range(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, T scale, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) y[i] = x[i] * scale;
}
template <class T>
NNK_INLINE void dropout_backward_range(const T* NNK_RESTRICT gy, const uint8_t* NNK_RESTRICT mask, T* NNK_RESTRICT gx,
                                       T scale, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) gx[i] = mask[i] ? gy[i] * scale : T(0);
}

NNK_ISA_CLONES(dropout_forward,
               (const T* x, T* y, uint8_t* mask, uint64_t seed, uint64_t thr, T scale, int64_t b, int64_t e),
               dropout_forward_range<T>(x, y, mask, seed, thr, scale, b, e))
NNK_ISA_CLONES(dropout_scale, (const T* x, T* y, T scale, int64_t b, int64_t e),
               dropout_scale_range<T>(x, y, scale, b, e))
NNK_ISA_CLONES(dropout_backward, (const T* gy, const uint8_t* mask, T* gx, T scale, int64_t b, int64_t e),
               dropout_backward_range<T>(gy, mask, gx, scale, b, e))

}  // namespace

template <class T>
void dropout_forward(const T* x, T* y, uint8_t* mask, int64_t n, uint64_t seed, uint64_t threshold, T scale) {
  parallel_ranges(n, grain::kExp, [&](int64_t b, int64_t e) {
    dropout_forward_isa<T>(x, y, mask, seed, threshold, scale, b, e);
  });
}
template <class T> void dropout_scale(const T* x, T* y, int64_t n, T scale) {
  parallel_ranges(n, grain::kLight, [&](int64_t b, int64_t e) { dropout_scale_isa<T>(x, y, scale, b, e); });
}
template <class T> void dropout_backward(const T* gy, const uint8_t* mask, T* gx, int64_t n, T scale) {
  parallel_ranges(n, grain::kLight,
                  [&](int64_t b, int64_t e) { dropout_backward_isa<T>(gy, mask, gx, scale, b, e); });
}

template void dropout_forward<float>(const float*, float*, uint8_t*, int64_t, uint64_t, uint64_t, float);
template void dropout_forward<double>(const double*, double*, uint8_t*, int64_t, uint64_t, uint64_t, double);
template void dropout_scale<float>(const float*, float*, int64_t, float);
template void dropout_scale<double>(const double*, double*, int64_t, double);
template void dropout_backward<float>(const float*, const uint8_t*, float*, int64_t, float);
template void dropout_backward<double>(const double*, const uint8_t*, double*, int64_t, double);

}  // namespace nnk
