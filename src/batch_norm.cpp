// Batch normalization (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network
// Training by Reducing Internal Covariate Shift"), forward in training and inference mode,
// and backward.
//
// NCHW input (S > 1): threads over channels; a thread owns whole channels and walks their N
// planes (each plane is a fixed reduction chunk, summed in 16 interleaved double lanes and
// folded in a fixed tree), so a channel's N*S elements stay in L2 between the passes
// (sum, centred sum of squares, normalise). (N, D) input (S = 1): threads over blocks of
// features; every row is accumulated into per-feature double sums in row order. Either way
// each statistic is computed by one thread in a fixed order: bit-identical for 1 or 2 threads.
// The elementwise passes are single fused multiply-adds with per-channel coefficients.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <memory>
#include "batch_norm.h"
#include "nnk_common.h"
#include "nnk_reduce.h"

namespace nnk {

namespace {

template <class T>
NNK_INLINE void affine_plane(const T* NNK_RESTRICT x, T* NNK_RESTRICT y, int64_t n, T a, T b) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

template <class T>
struct BnArgs {
  const T *x, *gy, *gamma, *beta, *rmean_in, *rvar_in, *mean_in, *invstd_in;
  T *y, *gx, *save_mean, *save_invstd, *rmean, *rvar, *ggamma, *gbeta;
  BatchNormShape s;
  double momentum, eps;
  bool unbiased, training;
};

// Per-channel statistics -> saved stats, running-stat update, (scale, shift) for y.
template <class T>
NNK_INLINE void finish_stats(const BnArgs<T>& a, int64_t c, double sum, double sqdev, double& scale,
                             double& shift) {
  const double M = double(a.s.n * a.s.s), mean = sum / M, var = sqdev / M;
  const double invstd = 1.0 / std::sqrt(var + a.eps);
  a.save_mean[c] = T(mean);
  a.save_invstd[c] = T(invstd);
  if (a.rmean) {
    const double v = a.unbiased ? sqdev / (M - 1.0) : var;
    a.rmean[c] = T((1.0 - a.momentum) * double(a.rmean[c]) + a.momentum * mean);
    a.rvar[c] = T((1.0 - a.momentum) * double(a.rvar[c]) + a.momentum * v);
  }
  const double g = a.gamma ? double(a.gamma[c]) : 1.0, b = a.beta ? double(a.beta[c]) : 0.0;
  scale = g * invstd;
  shift = b - mean * scale;
}

// Channels [c0, c1) of NCHW input, training forward.
template <class T>
NNK_INLINE void train_channels(const BnArgs<T>& a, int64_t c0, int64_t c1) {
  const int64_t N = a.s.n, C = a.s.c, S = a.s.s;
  for (int64_t c = c0; c < c1; ++c) {
    double sum = 0.0, sq = 0.0, scale, shift;
    for (int64_t n = 0; n < N; ++n) sum += chunk_sum(a.x + (n * C + c) * S, S);
    const double mean = sum / double(N * S);
    for (int64_t n = 0; n < N; ++n) sq += chunk_sqdev(a.x + (n * C + c) * S, S, mean);
    finish_stats(a, c, sum, sq, scale, shift);
    for (int64_t n = 0; n < N; ++n) affine_plane(a.x + (n * C + c) * S, a.y + (n * C + c) * S, S, T(scale), T(shift));
  }
}

// One thread's scratch for a block of nd features: `nacc` zeroed double accumulators and
// `ncoef` arrays of T coefficients, nd elements each.
template <class T>
struct FeatureScratch {
  int64_t nd;
  std::unique_ptr<double[]> accs;
  std::unique_ptr<T[]> coefs;
  FeatureScratch(int64_t nd_, int nacc, int ncoef)
      : nd(nd_), accs(scratch<double>(nacc * nd_)), coefs(scratch<T>(ncoef * nd_)) {
    std::fill(accs.get(), accs.get() + nacc * nd, 0.0);
  }
  double* acc(int i) { return accs.get() + i * nd; }
  T* coef(int i) { return coefs.get() + i * nd; }
};

// Features [d0, d1) of (N, D) input, training forward.
template <class T>
NNK_INLINE void train_features(const BnArgs<T>& a, int64_t d0, int64_t d1) {
  const int64_t N = a.s.n, D = a.s.c, nd = d1 - d0;
  FeatureScratch<T> buf(nd, 2, 2);
  double *NNK_RESTRICT sum = buf.acc(0), *NNK_RESTRICT sq = buf.acc(1);
  T *NNK_RESTRICT sc = buf.coef(0), *NNK_RESTRICT sh = buf.coef(1);
  for (int64_t n = 0; n < N; ++n) {
    const T* NNK_RESTRICT r = a.x + n * D + d0;
    for (int64_t d = 0; d < nd; ++d) sum[d] += double(r[d]);
  }
  const double M = double(N);
  for (int64_t n = 0; n < N; ++n) {
    const T* NNK_RESTRICT r = a.x + n * D + d0;
    for (int64_t d = 0; d < nd; ++d) {
      const double dev = double(r[d]) - sum[d] / M;
      sq[d] += dev * dev;
    }
  }
  for (int64_t d = 0; d < nd; ++d) {
    double scale, shift;
    finish_stats(a, d0 + d, sum[d], sq[d], scale, shift);
    sc[d] = T(scale);
    sh[d] = T(shift);
  }
  for (int64_t n = 0; n < N; ++n) {
    const T* NNK_RESTRICT r = a.x + n * D + d0;
    T* NNK_RESTRICT o = a.y + n * D + d0;
    for (int64_t d = 0; d < nd; ++d) o[d] = r[d] * sc[d] + sh[d];
  }
}

// Inference: rows [r0, r1) of the (N*C, S) planes (S > 1) or of the (N, D) rows (S = 1),
// with the folded per-channel coefficients sc/sh.
template <class T>
NNK_INLINE void infer_rows(const BnArgs<T>& a, const T* NNK_RESTRICT sc, const T* NNK_RESTRICT sh, int64_t r0,
                           int64_t r1) {
  const int64_t C = a.s.c, S = a.s.s;
  if (S == 1) {
    for (int64_t n = r0; n < r1; ++n) {
      const T* NNK_RESTRICT r = a.x + n * C;
      T* NNK_RESTRICT o = a.y + n * C;
      for (int64_t d = 0; d < C; ++d) o[d] = r[d] * sc[d] + sh[d];
    }
  } else {
    for (int64_t q = r0; q < r1; ++q) affine_plane(a.x + q * S, a.y + q * S, S, sc[q % C], sh[q % C]);
  }
}

// Backward coefficients of one channel from its two sums: gx = A*gy + B*(x - mean) + C0.
template <class T>
NNK_INLINE void grad_coefs(const BnArgs<T>& a, int64_t c, double sg, double sgx, double& A, double& B, double& C0) {
  const double M = double(a.s.n * a.s.s), invstd = double(a.invstd_in[c]);
  const double g = a.gamma ? double(a.gamma[c]) : 1.0;
  a.gbeta[c] = T(sg);
  a.ggamma[c] = T(sgx * invstd);
  A = g * invstd;
  if (a.training && M > 0) {  // gx = A*gy + B*(x - mean) + C0
    B = -A * invstd * invstd * sgx / M;
    C0 = -A * sg / M;
  } else {
    B = 0.0;
    C0 = 0.0;
  }
}

template <class T>
NNK_INLINE void backward_channels(const BnArgs<T>& a, int64_t c0, int64_t c1) {
  const int64_t N = a.s.n, C = a.s.c, S = a.s.s;
  for (int64_t c = c0; c < c1; ++c) {
    const double mean = double(a.mean_in[c]);
    double sg = 0.0, sgx = 0.0, A, B, C0;
    for (int64_t n = 0; n < N; ++n) {
      double p, q;
      chunk_grad_sums(a.gy + (n * C + c) * S, a.x + (n * C + c) * S, S, mean, p, q);
      sg += p;
      sgx += q;
    }
    grad_coefs(a, c, sg, sgx, A, B, C0);
    const T tA = T(A), tB = T(B), tC = T(C0), tm = a.mean_in[c];
    for (int64_t n = 0; n < N; ++n) {
      const T* NNK_RESTRICT g = a.gy + (n * C + c) * S;
      const T* NNK_RESTRICT x = a.x + (n * C + c) * S;
      T* NNK_RESTRICT o = a.gx + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i) o[i] = g[i] * tA + (x[i] - tm) * tB + tC;
    }
  }
}

template <class T>
NNK_INLINE void backward_features(const BnArgs<T>& a, int64_t d0, int64_t d1) {
  const int64_t N = a.s.n, D = a.s.c, nd = d1 - d0;
  FeatureScratch<T> buf(nd, 3, 3);
  double *NNK_RESTRICT sg = buf.acc(0), *NNK_RESTRICT sgx = buf.acc(1), *NNK_RESTRICT mean = buf.acc(2);
  T *NNK_RESTRICT cA = buf.coef(0), *NNK_RESTRICT cB = buf.coef(1), *NNK_RESTRICT cC = buf.coef(2);
  for (int64_t d = 0; d < nd; ++d) mean[d] = double(a.mean_in[d0 + d]);
  for (int64_t n = 0; n < N; ++n) {
    const T* NNK_RESTRICT g = a.gy + n * D + d0;
    const T* NNK_RESTRICT x = a.x + n * D + d0;
    for (int64_t d = 0; d < nd; ++d) {
      sg[d] += double(g[d]);
      sgx[d] += double(g[d]) * (double(x[d]) - mean[d]);
    }
  }
  for (int64_t d = 0; d < nd; ++d) {
    double A, B, C0;
    grad_coefs(a, d0 + d, sg[d], sgx[d], A, B, C0);
    cA[d] = T(A);
    cB[d] = T(B);
    cC[d] = T(C0);
  }
  for (int64_t n = 0; n < N; ++n) {
    const T* NNK_RESTRICT g = a.gy + n * D + d0;
    const T* NNK_RESTRICT x = a.x + n * D + d0;
    T* NNK_RESTRICT o = a.gx + n * D + d0;
    const T* NNK_RESTRICT mu = a.mean_in + d0;
    for (int64_t d = 0; d < nd; ++d) o[d] = g[d] * cA[d] + (x[d] - mu[d]) * cB[d] + cC[d];
  }
}

// Per-thread bodies. Range = channels for S > 1, features for S = 1.
template <class T>
NNK_INLINE void train_range(const BnArgs<T>& a, int64_t b, int64_t e) {
  a.s.s == 1 ? train_features(a, b, e) : train_channels(a, b, e);
}
template <class T>
NNK_INLINE void backward_range(const BnArgs<T>& a, int64_t b, int64_t e) {
  a.s.s == 1 ? backward_features(a, b, e) : backward_channels(a, b, e);
}
NNK_ISA_CLONES(batch_norm_forward_train, (const BnArgs<T>& a, int64_t b, int64_t e), train_range<T>(a, b, e))
NNK_ISA_CLONES(batch_norm_forward_infer, (const BnArgs<T>& a, const T* sc, const T* sh, int64_t b, int64_t e),
               infer_rows<T>(a, sc, sh, b, e))
NNK_ISA_CLONES(batch_norm_backward, (const BnArgs<T>& a, int64_t b, int64_t e), backward_range<T>(a, b, e))

// body(b, e) over the channels (S != 1) or the features (S = 1: in blocks of 16, whole vectors),
// with the statistics' grain.
template <class F>
void over_channels(const BatchNormShape& s, F&& body) {
  if (s.s != 1) {
    parallel_ranges(s.c, items_per_grain(grain::kRows, s.n * s.s), body);
    return;
  }
  parallel_ranges((s.c + 15) / 16, items_per_grain(grain::kRows, s.n * 16),
                  [&](int64_t b, int64_t e) { body(std::min(s.c, b * 16), std::min(s.c, e * 16)); });
}

}  // namespace

template <class T>
void batch_norm_forward_train(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_invstd,
                              T* running_mean, T* running_var, const BatchNormShape& s, double momentum, double eps,
                              bool unbiased) {
  assert(s.n * s.s >= 2 && (running_mean == nullptr) == (running_var == nullptr));
  BnArgs<T> a{x, nullptr, gamma, beta, nullptr, nullptr, nullptr, nullptr,
              y, nullptr, save_mean, save_invstd, running_mean, running_var, nullptr, nullptr,
              s, momentum, eps, unbiased, true};
  over_channels(s, [&](int64_t b, int64_t e) { batch_norm_forward_train_isa<T>(a, b, e); });
}

template <class T>
void batch_norm_forward_infer(const T* x, const T* gamma, const T* beta, const T* running_mean,
                              const T* running_var, T* y, T* save_mean, T* save_invstd, const BatchNormShape& s,
                              double eps) {
  auto coef = scratch<T>(2 * s.c);
  T* sc = coef.get();
  T* sh = sc + s.c;
  for (int64_t c = 0; c < s.c; ++c) {
    const double invstd = 1.0 / std::sqrt(double(running_var[c]) + eps);
    const double scale = (gamma ? double(gamma[c]) : 1.0) * invstd;
    sc[c] = T(scale);
    sh[c] = T((beta ? double(beta[c]) : 0.0) - double(running_mean[c]) * scale);
    save_mean[c] = running_mean[c];
    save_invstd[c] = T(invstd);
  }
  BnArgs<T> a{x, nullptr, gamma, beta, running_mean, running_var, nullptr, nullptr,
              y, nullptr, save_mean, save_invstd, nullptr, nullptr, nullptr, nullptr,
              s, 0.0, eps, false, false};
  const int64_t rows = s.s == 1 ? s.n : s.n * s.c;
  parallel_ranges(rows, items_per_grain(grain::kLight, s.s == 1 ? s.c : s.s),
                  [&](int64_t b, int64_t e) { batch_norm_forward_infer_isa<T>(a, sc, sh, b, e); });
}

template <class T>
void batch_norm_backward(const T* gy, const T* x, const T* gamma, const T* mean, const T* invstd, T* gx,
                         T* ggamma, T* gbeta, const BatchNormShape& s, bool training) {
  BnArgs<T> a{x, gy, gamma, nullptr, nullptr, nullptr, mean, invstd,
              nullptr, gx, nullptr, nullptr, nullptr, nullptr, ggamma, gbeta,
              s, 0.0, 0.0, false, training};
  over_channels(s, [&](int64_t b, int64_t e) { batch_norm_backward_isa<T>(a, b, e); });
}

#define NNK_BN_INSTANTIATE(T)                                                                                   \
  template void batch_norm_forward_train<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*,                    \
                                            const BatchNormShape&, double, double, bool);                        \
  template void batch_norm_forward_infer<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,        \
                                            const BatchNormShape&, double);                                      \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,             \
                                       const BatchNormShape&, bool);
NNK_BN_INSTANTIATE(float)
NNK_BN_INSTANTIATE(double)

}  // namespace nnk
