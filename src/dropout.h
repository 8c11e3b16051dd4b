// Dropout with a counter-based RNG: element i is kept iff u_i >= p, where u_i in [0, 1) is
// the top 53 bits of the i-th SplitMix64 output of `seed`:
//     z = seed + (i + 1) * 0x9E3779B97F4A7C15;  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//     z = (z ^ (z >> 27)) * 0x94D049BB133111EB;  z ^= z >> 31;   u_i = (z >> 11) * 2^-53
// (Steele, Lea & Flood 2014), so the mask depends on (seed, i) only, never on threads.
#pragma once
#include <cstdint>

namespace nnk {

// keep iff (z >> 11) >= dropout_threshold(p), i.e. u_i >= p; p in [0, 1).
uint64_t dropout_threshold(double p);

// Training: mask[i] = keep_i, y[i] = keep_i ? x[i] * scale : 0.
template <class T>
void dropout_forward(const T* x, T* y, uint8_t* mask, int64_t n, uint64_t seed, uint64_t threshold, T scale);
// y = x * scale (inference).
template <class T> void dropout_scale(const T* x, T* y, int64_t n, T scale);
// gx[i] = mask[i] ? gy[i] * scale : 0.
template <class T> void dropout_backward(const T* gy, const uint8_t* mask, T* gx, int64_t n, T scale);

}  // namespace nnk
