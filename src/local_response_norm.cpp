// Local response normalization across channels (Krizhevsky, Sutskever & Hinton 2012,
// "ImageNet Classification with Deep Convolutional Neural Networks", section 3.3).
// Work items are (image, block of kBlock pixels); parallel_ranges splits them. Within an
// item every channel's window sum of squares is a short sum over at most `size` channel
// rows of the block (L1/L2 resident), vectorised over pixels; a full window of 5 channels
// (AlexNet) is one fused pass instead of a read-modify-write pass per channel. d^(-beta) has fast exact
// paths for beta = 0.75 (1/sqrt(d) * sqrt(1/sqrt(d))), 0.5 and 1; other betas use exp/log.
// The backward keeps d^(-beta) and gy*x*d^(-beta-1) of the block in per-thread scratch and
// gathers the transposed window from it. No cross-item reductions: results do not depend
// on the thread count.
#include <algorithm>
#include <cassert>
#include <cmath>
#include "local_response_norm.h"
#include "nnk_common.h"

namespace nnk {

namespace {

constexpr int64_t kBlock = 256;

enum class Pow { b075, b05, b1, general };

template <class T, Pow P>
NNK_INLINE T neg_pow(T d, T beta) {  // d^(-beta), d > 0
  if (P == Pow::b075) {
    const T r = T(1) / std::sqrt(d);
    return r * std::sqrt(r);
  } else if (P == Pow::b05) {
    return T(1) / std::sqrt(d);
  } else if (P == Pow::b1) {
    return T(1) / d;
  } else {
    return std::exp(-beta * std::log(d));
  }
}

struct Window {
  int64_t lo, hi;  // channel c sums channels [c - lo, c + hi]
};

// d = k + a * sum of squares over the window of channel c, for the nb pixels of one block.
template <class T>
NNK_INLINE void window_denominator(const T* xb, int64_t S, int64_t C, int64_t c, int64_t nb, Window w, T a, T k,
                                   T* NNK_RESTRICT d) {
  const int64_t c0 = std::max<int64_t>(0, c - w.lo), c1 = std::min(C - 1, c + w.hi);
  if (c1 - c0 == 4) {  // a full AlexNet window (size 5): one pass, no read-modify-write of d
    const T* NNK_RESTRICT r0 = xb + c0 * S;
    const T* NNK_RESTRICT r1 = r0 + S;
    const T* NNK_RESTRICT r2 = r1 + S;
    const T* NNK_RESTRICT r3 = r2 + S;
    const T* NNK_RESTRICT r4 = r3 + S;
    for (int64_t b = 0; b < nb; ++b) {
      const T sum = r0[b] * r0[b] + r1[b] * r1[b] + r2[b] * r2[b] + r3[b] * r3[b] + r4[b] * r4[b];
      d[b] = k + a * sum;
    }
    return;
  }
  for (int64_t b = 0; b < nb; ++b) d[b] = T(0);
  for (int64_t cc = c0; cc <= c1; ++cc) {
    const T* NNK_RESTRICT r = xb + cc * S;
    for (int64_t b = 0; b < nb; ++b) d[b] += r[b] * r[b];
  }
  for (int64_t b = 0; b < nb; ++b) d[b] = k + a * d[b];
}

template <class T, Pow P>
NNK_INLINE void forward_items(const T* x, T* y, const LrnShape& s, const LrnParams& p, int64_t i0, int64_t i1) {
  const int64_t C = s.c, S = s.s, blocks = (S + kBlock - 1) / kBlock;
  const Window w{p.size / 2, (p.size - 1) / 2};
  const T a = T(p.alpha_over_size ? p.alpha / double(p.size) : p.alpha), k = T(p.k), beta = T(p.beta);
  T d[kBlock];
  for (int64_t it = i0; it < i1; ++it) {
    const int64_t n = it / blocks, p0 = (it % blocks) * kBlock, nb = std::min(kBlock, S - p0);
    const T* xb = x + n * C * S + p0;
    T* yb = y + n * C * S + p0;
    for (int64_t c = 0; c < C; ++c) {
      window_denominator(xb, S, C, c, nb, w, a, k, d);
      const T* NNK_RESTRICT xr = xb + c * S;
      T* NNK_RESTRICT yr = yb + c * S;
      for (int64_t b = 0; b < nb; ++b) yr[b] = xr[b] * neg_pow<T, P>(d[b], beta);
    }
  }
}

template <class T, Pow P>
NNK_INLINE void backward_items(const T* gy, const T* x, T* gx, const LrnShape& s, const LrnParams& p, int64_t i0,
                               int64_t i1) {
  const int64_t C = s.c, S = s.s, blocks = (S + kBlock - 1) / kBlock;
  const Window w{p.size / 2, (p.size - 1) / 2};
  const T a = T(p.alpha_over_size ? p.alpha / double(p.size) : p.alpha), k = T(p.k), beta = T(p.beta);
  const T coef = T(-2.0) * a * beta;
  auto buf = scratch<T>(2 * C * kBlock + kBlock);
  T* NNK_RESTRICT pw = buf.get();         // (C, kBlock): d^(-beta)
  T* NNK_RESTRICT rr = pw + C * kBlock;   // (C, kBlock): gy * x * d^(-beta-1)
  T* NNK_RESTRICT acc = rr + C * kBlock;  // (kBlock,)
  for (int64_t it = i0; it < i1; ++it) {
    const int64_t n = it / blocks, p0 = (it % blocks) * kBlock, nb = std::min(kBlock, S - p0);
    const T* xb = x + n * C * S + p0;
    const T* gb = gy + n * C * S + p0;
    T* ob = gx + n * C * S + p0;
    for (int64_t c = 0; c < C; ++c) {
      T* NNK_RESTRICT d = acc;
      window_denominator(xb, S, C, c, nb, w, a, k, d);
      const T* NNK_RESTRICT xr = xb + c * S;
      const T* NNK_RESTRICT gr = gb + c * S;
      T* NNK_RESTRICT pc = pw + c * kBlock;
      T* NNK_RESTRICT rc = rr + c * kBlock;
      for (int64_t b = 0; b < nb; ++b) {
        const T q = neg_pow<T, P>(d[b], beta);
        pc[b] = q;
        rc[b] = gr[b] * xr[b] * q / d[b];
      }
    }
    // channel j receives from the channels c whose window holds j: c in [j - hi, j + lo]
    for (int64_t j = 0; j < C; ++j) {
      const int64_t c0 = std::max<int64_t>(0, j - w.hi), c1 = std::min(C - 1, j + w.lo);
      const T* NNK_RESTRICT xr = xb + j * S;
      const T* NNK_RESTRICT gr = gb + j * S;
      const T* NNK_RESTRICT pj = pw + j * kBlock;
      T* NNK_RESTRICT o = ob + j * S;
      if (c1 - c0 == 4) {  // a full window of 5 (AlexNet): one fused pass
        const T* NNK_RESTRICT q0 = rr + c0 * kBlock;
        const T* NNK_RESTRICT q1 = q0 + kBlock;
        const T* NNK_RESTRICT q2 = q1 + kBlock;
        const T* NNK_RESTRICT q3 = q2 + kBlock;
        const T* NNK_RESTRICT q4 = q3 + kBlock;
        for (int64_t b = 0; b < nb; ++b)
          o[b] = gr[b] * pj[b] + coef * xr[b] * ((((q0[b] + q1[b]) + q2[b]) + q3[b]) + q4[b]);
        continue;
      }
      for (int64_t b = 0; b < nb; ++b) acc[b] = T(0);
      for (int64_t c = c0; c <= c1; ++c) {
        const T* NNK_RESTRICT rc = rr + c * kBlock;
        for (int64_t b = 0; b < nb; ++b) acc[b] += rc[b];
      }
      for (int64_t b = 0; b < nb; ++b) o[b] = gr[b] * pj[b] + coef * xr[b] * acc[b];
    }
  }
}

inline Pow pow_kind(double beta) {
  return beta == 0.75 ? Pow::b075 : beta == 0.5 ? Pow::b05 : beta == 1.0 ? Pow::b1 : Pow::general;
}

template <class T>
NNK_INLINE void forward_dispatch(const T* x, T* y, const LrnShape& s, const LrnParams& p, int64_t i0, int64_t i1) {
  switch (pow_kind(p.beta)) {
    case Pow::b075: return forward_items<T, Pow::b075>(x, y, s, p, i0, i1);
    case Pow::b05: return forward_items<T, Pow::b05>(x, y, s, p, i0, i1);
    case Pow::b1: return forward_items<T, Pow::b1>(x, y, s, p, i0, i1);
    default: return forward_items<T, Pow::general>(x, y, s, p, i0, i1);
  }
}

template <class T>
NNK_INLINE void backward_dispatch(const T* gy, const T* x, T* gx, const LrnShape& s, const LrnParams& p, int64_t i0,
                                  int64_t i1) {
  switch (pow_kind(p.beta)) {
    case Pow::b075: return backward_items<T, Pow::b075>(gy, x, gx, s, p, i0, i1);
    case Pow::b05: return backward_items<T, Pow::b05>(gy, x, gx, s, p, i0, i1);
    case Pow::b1: return backward_items<T, Pow::b1>(gy, x, gx, s, p, i0, i1);
    default: return backward_items<T, Pow::general>(gy, x, gx, s, p, i0, i1);
  }
}

NNK_ISA_CLONES(local_response_norm_forward,
               (const T* x, T* y, const LrnShape& s, const LrnParams& p, int64_t i0, int64_t i1),
               forward_dispatch<T>(x, y, s, p, i0, i1))
NNK_ISA_CLONES(local_response_norm_backward,
               (const T* gy, const T* x, T* gx, const LrnShape& s, const LrnParams& p, int64_t i0, int64_t i1),
               backward_dispatch<T>(gy, x, gx, s, p, i0, i1))

// Work items: (image, block of kBlock pixels), each about C * kBlock * min(size, C) steps.
template <class F>
void over_items(const LrnShape& s, const LrnParams& p, F&& body) {
  const int64_t items = s.n * ((s.s + kBlock - 1) / kBlock);
  const int64_t per = items_per_grain(items_per_grain(grain::kRows, s.c * kBlock), std::min(p.size, s.c));
  parallel_ranges(items, per, body);
}

}  // namespace

template <class T>
void local_response_norm_forward(const T* x, T* y, const LrnShape& s, const LrnParams& p) {
  assert(p.size >= 1 && p.k > 0);
  if (s.c == 0) return;
  over_items(s, p, [&](int64_t b, int64_t e) { local_response_norm_forward_isa<T>(x, y, s, p, b, e); });
}

template <class T>
void local_response_norm_backward(const T* gy, const T* x, T* gx, const LrnShape& s, const LrnParams& p) {
  assert(p.size >= 1 && p.k > 0);
  if (s.c == 0) return;
  over_items(s, p, [&](int64_t b, int64_t e) { local_response_norm_backward_isa<T>(gy, x, gx, s, p, b, e); });
}

template void local_response_norm_forward<float>(const float*, float*, const LrnShape&, const LrnParams&);
template void local_response_norm_forward<double>(const double*, double*, const LrnShape&, const LrnParams&);
template void local_response_norm_backward<float>(const float*, const float*, float*, const LrnShape&,
                                                  const LrnParams&);
template void local_response_norm_backward<double>(const double*, const double*, double*, const LrnShape&,
                                                   const LrnParams&);

}  // namespace nnk
