// Max and average pooling by direct, separable loops. For each output row, a vertical pass
// reduces the (clamped) window rows into a padded row buffer (contiguous, vectorised), then a
// horizontal pass reduces KW strided taps of that buffer per output column (tap-outer,
// column-inner, so it vectorises too). Max pooling carries the flat input index of the
// running maximum beside the value (int32 in the buffers, int64 in the output); ties go to
// the smaller flat index, i.e. the first maximum in row-major window order, like np.argmax.
// OpenMP over the N*C planes: every thread owns whole planes, so there are no races and the
// backward scatters have a fixed order.
#include <algorithm>
#include <cassert>
#include <limits>
#include <omp.h>
#include "nnk_common.h"
#include "pool2d.h"

namespace nnk {

namespace {


constexpr int32_t kPadIndex = std::numeric_limits<int32_t>::max();  // loses every tie

// v replaces the running maximum m (flat index fm) when it is larger, or equal with a smaller
// index, or the first NaN; a NaN maximum is only replaced by a NaN with a smaller index.
template <class T>
NNK_INLINE bool takes_over(T v, int32_t f, T m, int32_t fm) {
  const bool vnan = v != v, mnan = m != m;
  return (v > m) | ((v == m) & (f < fm)) | (vnan & !mnan) | (vnan & mnan & (f < fm));
}

// Output columns [0, OW), one tap j: v[ow] = buf[ow * SW + j] (SW > 0: compile-time stride).
template <int SW>
NNK_INLINE int64_t tap(int64_t ow, int64_t sw, int64_t j) { return ow * (SW > 0 ? SW : sw) + j; }

template <class T, bool Idx, int SW>
NNK_INLINE void max_hpass(const T* NNK_RESTRICT cv, const int32_t* NNK_RESTRICT cf, T* NNK_RESTRICT yr,
                          int32_t* NNK_RESTRICT fr, const Pool2dShape& s) {
  const int64_t ow_n = s.ow, sw = s.sw;
  for (int64_t ow = 0; ow < ow_n; ++ow) {
    yr[ow] = cv[tap<SW>(ow, sw, 0)];
    if (Idx) fr[ow] = cf[tap<SW>(ow, sw, 0)];
  }
  for (int64_t j = 1; j < s.kw; ++j) {
    for (int64_t ow = 0; ow < ow_n; ++ow) {
      const T v = cv[tap<SW>(ow, sw, j)], m = yr[ow];
      if (Idx) {
        const int32_t f = cf[tap<SW>(ow, sw, j)];
        const bool t = takes_over(v, f, m, fr[ow]);
        yr[ow] = t ? v : m;
        fr[ow] = t ? f : fr[ow];
      } else {
        yr[ow] = (v > m) | (v != v) ? v : m;
      }
    }
  }
}

// Non-overlapping columns without padding that tile the row exactly (2x2 stride 2 on an even
// width, ...): output q of the plane reads buffer entries q*SW + j of the vertically reduced
// plane (OH rows of W), so the horizontal pass runs once per plane over OH*OW outputs
// instead of once per short output row.
inline bool flat_columns(const Pool2dShape& s) { return s.pw == 0 && s.kw == s.sw && s.w == s.ow * s.sw; }

// Value-only horizontal max with compile-time taps and stride: one pass, taps in registers.
template <class T, int KW, int SW>
NNK_INLINE void max_hpass_fixed(const T* NNK_RESTRICT cv, T* NNK_RESTRICT yr, int64_t ow_n) {
  for (int64_t ow = 0; ow < ow_n; ++ow) {
    T m = cv[ow * SW];
    for (int j = 1; j < KW; ++j) {
      const T v = cv[ow * SW + j];
      m = (v > m) | (v != v) ? v : m;
    }
    yr[ow] = m;
  }
}

template <class T, bool Idx>
NNK_INLINE void max_hpass_any(const T* cv, const int32_t* cf, T* yr, int32_t* fr, const Pool2dShape& s) {
  if (!Idx && s.kw == 3 && s.sw == 2) return max_hpass_fixed<T, 3, 2>(cv, yr, s.ow);
  if (!Idx && s.kw == 2 && s.sw == 2) return max_hpass_fixed<T, 2, 2>(cv, yr, s.ow);
  if (s.sw == 1) max_hpass<T, Idx, 1>(cv, cf, yr, fr, s);
  else if (s.sw == 2) max_hpass<T, Idx, 2>(cv, cf, yr, fr, s);
  else max_hpass<T, Idx, 0>(cv, cf, yr, fr, s);
}

template <class T, bool Idx>
NNK_INLINE void maxpool_planes(const T* x, T* y, int64_t* idx, const Pool2dShape& s, int64_t p0, int64_t p1) {
  const int64_t H = s.h, W = s.w, Wp = W + 2 * s.pw, OW = s.ow;
  const bool flat = flat_columns(s);
  Pool2dShape fs = s;  // the flat horizontal pass: one "row" of OH*OW outputs
  fs.ow = s.oh * s.ow;
  const int64_t nbuf = flat ? s.oh * W : Wp, nout = flat ? fs.ow : OW;
  auto cvb = scratch<T>(nbuf);
  auto cfb = scratch<int32_t>(Idx ? nbuf + nout : 1);
  T* NNK_RESTRICT cv = cvb.get();
  int32_t* NNK_RESTRICT cf = cfb.get();
  int32_t* NNK_RESTRICT fr = cf + nbuf;  // output indices before widening
  for (int64_t i = 0; i < s.pw; ++i) {
    cv[i] = cv[s.pw + W + i] = -std::numeric_limits<T>::infinity();
    if (Idx) cf[i] = cf[s.pw + W + i] = kPadIndex;
  }
  for (int64_t p = p0; p < p1; ++p) {
    const T* xp = x + p * H * W;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      // vertical pass into column iw of the row buffer (flat: row oh of the plane buffer)
      T* NNK_RESTRICT cvi = flat ? cv + oh * W : cv + s.pw;
      int32_t* NNK_RESTRICT cfi = flat ? cf + oh * W : cf + s.pw;
      const int64_t ih0 = oh * s.sh - s.ph, r0 = std::max<int64_t>(ih0, 0), r1 = std::min(ih0 + s.kh, H);
      const T* NNK_RESTRICT row = xp + r0 * W;
      const int32_t base0 = int32_t(r0 * W);
      for (int64_t iw = 0; iw < W; ++iw) {
        cvi[iw] = row[iw];
        if (Idx) cfi[iw] = base0 + int32_t(iw);
      }
      for (int64_t r = r0 + 1; r < r1; ++r) {
        row = xp + r * W;
        const int32_t base = int32_t(r * W);
        for (int64_t iw = 0; iw < W; ++iw) {
          const T v = row[iw], m = cvi[iw];
          // rows arrive in increasing order, so an equal value never takes over
          const bool t = (v > m) | ((v != v) & (m == m));
          cvi[iw] = t ? v : m;
          if (Idx) cfi[iw] = t ? base + int32_t(iw) : cfi[iw];
        }
      }
      if (flat) continue;
      max_hpass_any<T, Idx>(cv, cf, y + (p * s.oh + oh) * OW, fr, s);
      if (Idx) {
        int64_t* ir = idx + (p * s.oh + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) ir[ow] = fr[ow];
      }
    }
    if (!flat) continue;
    max_hpass_any<T, Idx>(cv, cf, y + p * fs.ow, fr, fs);
    if (Idx) {
      int64_t* ir = idx + p * fs.ow;
      for (int64_t q = 0; q < fs.ow; ++q) ir[q] = fr[q];
    }
  }
}

template <class T>
NNK_INLINE void maxpool_bwd_planes(const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s, int64_t p0,
                                   int64_t p1, int64_t& bad) {
  const int64_t HW = s.h * s.w, P = s.oh * s.ow;
  for (int64_t p = p0; p < p1; ++p) {
    T* NNK_RESTRICT g = gx + p * HW;
    std::fill(g, g + HW, T(0));
    const T* gp = gy + p * P;
    const int64_t* ip = idx + p * P;
    for (int64_t q = 0; q < P; ++q) {
      const int64_t f = ip[q];
      if (static_cast<uint64_t>(f) < static_cast<uint64_t>(HW)) g[f] += gp[q];
      else ++bad;
    }
  }
}

// Reciprocal divisors of one output row: rcp[ow] = 1 / (rows * cols(ow)).
template <class T>
NNK_INLINE void avg_rcp(T* rcp, const Pool2dShape& s, int64_t rows, bool include_pad) {
  for (int64_t ow = 0; ow < s.ow; ++ow) {
    const int64_t iw0 = ow * s.sw - s.pw;
    const int64_t cols = include_pad ? s.kw : std::min(iw0 + s.kw, s.w) - std::max<int64_t>(iw0, 0);
    rcp[ow] = T(1.0 / double((include_pad ? s.kh : rows) * cols));
  }
}

template <class T, int SW>
NNK_INLINE void avg_hpass(const T* NNK_RESTRICT sv, T* NNK_RESTRICT yr, const T* NNK_RESTRICT rcp,
                          const Pool2dShape& s) {
  const int64_t sw = s.sw;
  for (int64_t ow = 0; ow < s.ow; ++ow) yr[ow] = sv[tap<SW>(ow, sw, 0)];
  for (int64_t j = 1; j < s.kw; ++j)
    for (int64_t ow = 0; ow < s.ow; ++ow) yr[ow] += sv[tap<SW>(ow, sw, j)];
  for (int64_t ow = 0; ow < s.ow; ++ow) yr[ow] *= rcp[ow];
}

template <class T, int KW, int SW>
NNK_INLINE void avg_hpass_fixed(const T* NNK_RESTRICT sv, T* NNK_RESTRICT yr, const T* NNK_RESTRICT rcp,
                                int64_t ow_n) {
  for (int64_t ow = 0; ow < ow_n; ++ow) {
    T m = sv[ow * SW];
    for (int j = 1; j < KW; ++j) m += sv[ow * SW + j];
    yr[ow] = m * rcp[ow];
  }
}

template <class T>
NNK_INLINE void avg_hpass_any(const T* sv, T* yr, const T* rcp, const Pool2dShape& s) {
  if (s.kw == 2 && s.sw == 2) return avg_hpass_fixed<T, 2, 2>(sv, yr, rcp, s.ow);
  if (s.kw == 3 && s.sw == 2) return avg_hpass_fixed<T, 3, 2>(sv, yr, rcp, s.ow);
  if (s.sw == 1) avg_hpass<T, 1>(sv, yr, rcp, s);
  else if (s.sw == 2) avg_hpass<T, 2>(sv, yr, rcp, s);
  else avg_hpass<T, 0>(sv, yr, rcp, s);
}

template <class T>
NNK_INLINE void avgpool_planes(const T* x, T* y, const Pool2dShape& s, bool include_pad, int64_t p0, int64_t p1) {
  const int64_t H = s.h, W = s.w, Wp = W + 2 * s.pw, OW = s.ow;
  const bool flat = flat_columns(s);  // see maxpool_planes
  Pool2dShape fs = s;
  fs.ow = s.oh * s.ow;
  // row buffer (flat: the vertically summed plane) + reciprocal divisors for every output of
  // a plane (flat) or for a full-height row and a clipped row
  const int64_t nbuf = flat ? s.oh * W : Wp, nrcp = flat ? fs.ow : 2 * OW;
  auto buf = scratch<T>(nbuf + nrcp);
  T* NNK_RESTRICT sv = buf.get();
  T* NNK_RESTRICT rcp = sv + nbuf;
  T* NNK_RESTRICT rcp_edge = rcp + OW;
  std::fill(sv, sv + nbuf, T(0));
  if (flat) {
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t ih0 = oh * s.sh - s.ph;
      avg_rcp(rcp + oh * OW, s, std::min(ih0 + s.kh, H) - std::max<int64_t>(ih0, 0), include_pad);
    }
  } else {
    avg_rcp(rcp, s, s.kh, include_pad);
  }
  for (int64_t p = p0; p < p1; ++p) {
    const T* xp = x + p * H * W;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      T* NNK_RESTRICT svi = flat ? sv + oh * W : sv + s.pw;
      const int64_t ih0 = oh * s.sh - s.ph, r0 = std::max<int64_t>(ih0, 0), r1 = std::min(ih0 + s.kh, H);
      const T* NNK_RESTRICT row = xp + r0 * W;
      for (int64_t iw = 0; iw < W; ++iw) svi[iw] = row[iw];
      for (int64_t r = r0 + 1; r < r1; ++r) {
        row = xp + r * W;
        for (int64_t iw = 0; iw < W; ++iw) svi[iw] += row[iw];
      }
      if (flat) continue;
      const T* rc = rcp;
      if (!include_pad && r1 - r0 != s.kh) {
        avg_rcp(rcp_edge, s, r1 - r0, false);
        rc = rcp_edge;
      }
      avg_hpass_any(sv, y + (p * s.oh + oh) * OW, rc, s);
    }
    if (flat) avg_hpass_any(sv, y + p * fs.ow, rcp, fs);
  }
}

template <class T, int SW>
NNK_INLINE void avg_hscatter(T* NNK_RESTRICT sv, const T* NNK_RESTRICT gr, const Pool2dShape& s) {
  const int64_t sw = s.sw;
  for (int64_t j = 0; j < s.kw; ++j)
    for (int64_t ow = 0; ow < s.ow; ++ow) sv[tap<SW>(ow, sw, j)] += gr[ow];
}

// Exactly tiling columns (flat_columns): every buffer column gets one tap, so the expansion
// is a plain (vectorisable) store, no clearing and no read-modify-write.
template <class T, int SW>
NNK_INLINE void avg_hexpand(T* NNK_RESTRICT sv, const T* NNK_RESTRICT gr, const Pool2dShape& s) {
  const int64_t sw = s.sw;
  for (int64_t j = 0; j < s.kw; ++j)
    for (int64_t ow = 0; ow < s.ow; ++ow) sv[tap<SW>(ow, sw, j)] = gr[ow];
}

template <class T>
NNK_INLINE void avgpool_bwd_planes(const T* gy, T* gx, const Pool2dShape& s, bool include_pad, int64_t p0,
                                   int64_t p1) {
  const int64_t H = s.h, W = s.w, Wp = W + 2 * s.pw, OW = s.ow;
  auto buf = scratch<T>(Wp + 3 * OW);
  T* NNK_RESTRICT sv = buf.get();
  T* NNK_RESTRICT rcp = sv + Wp;
  T* NNK_RESTRICT rcp_edge = rcp + OW;
  T* NNK_RESTRICT gr = rcp_edge + OW;
  T* NNK_RESTRICT svi = sv + s.pw;
  avg_rcp(rcp, s, s.kh, include_pad);
  const bool flat = flat_columns(s);
  // rows tile exactly too: every input row lies in exactly one window, written once
  const bool tiled = flat && s.ph == 0 && s.kh == s.sh && H == s.oh * s.sh;
  for (int64_t p = p0; p < p1; ++p) {
    T* NNK_RESTRICT gp = gx + p * H * W;
    if (!tiled) std::fill(gp, gp + H * W, T(0));
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      const int64_t ih0 = oh * s.sh - s.ph, r0 = std::max<int64_t>(ih0, 0), r1 = std::min(ih0 + s.kh, H);
      const T* rc = rcp;
      if (!include_pad && r1 - r0 != s.kh) {
        avg_rcp(rcp_edge, s, r1 - r0, false);
        rc = rcp_edge;
      }
      const T* gyr = gy + (p * s.oh + oh) * OW;
      for (int64_t ow = 0; ow < OW; ++ow) gr[ow] = gyr[ow] * rc[ow];
      if (flat) {
        if (s.sw == 2) avg_hexpand<T, 2>(sv, gr, s);
        else avg_hexpand<T, 0>(sv, gr, s);
      } else {
        std::fill(sv, sv + Wp, T(0));
        if (s.sw == 1) avg_hscatter<T, 1>(sv, gr, s);
        else if (s.sw == 2) avg_hscatter<T, 2>(sv, gr, s);
        else avg_hscatter<T, 0>(sv, gr, s);
      }
      if (tiled) {
        for (int64_t r = r0; r < r1; ++r) std::copy(svi, svi + W, gp + r * W);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) {
        T* NNK_RESTRICT row = gp + r * W;
        for (int64_t iw = 0; iw < W; ++iw) row[iw] += svi[iw];
      }
    }
  }
}

// Per-thread bodies: non-template, ISA-multiversioned, called once per thread.
NNK_CLONES void maxpool_fwd_f32(const float* x, float* y, int64_t* idx, const Pool2dShape& s, int64_t p0, int64_t p1) {
  if (idx) maxpool_planes<float, true>(x, y, idx, s, p0, p1);
  else maxpool_planes<float, false>(x, y, idx, s, p0, p1);
}
NNK_CLONES void maxpool_fwd_f64(const double* x, double* y, int64_t* idx, const Pool2dShape& s, int64_t p0,
                                int64_t p1) {
  if (idx) maxpool_planes<double, true>(x, y, idx, s, p0, p1);
  else maxpool_planes<double, false>(x, y, idx, s, p0, p1);
}
NNK_CLONES void avgpool_fwd_f32(const float* x, float* y, const Pool2dShape& s, bool ip, int64_t p0, int64_t p1) {
  avgpool_planes<float>(x, y, s, ip, p0, p1);
}
NNK_CLONES void avgpool_fwd_f64(const double* x, double* y, const Pool2dShape& s, bool ip, int64_t p0, int64_t p1) {
  avgpool_planes<double>(x, y, s, ip, p0, p1);
}
NNK_CLONES void avgpool_bwd_f32(const float* gy, float* gx, const Pool2dShape& s, bool ip, int64_t p0, int64_t p1) {
  avgpool_bwd_planes<float>(gy, gx, s, ip, p0, p1);
}
NNK_CLONES void avgpool_bwd_f64(const double* gy, double* gx, const Pool2dShape& s, bool ip, int64_t p0,
                                int64_t p1) {
  avgpool_bwd_planes<double>(gy, gx, s, ip, p0, p1);
}

inline void maxpool_fwd(const float* x, float* y, int64_t* i, const Pool2dShape& s, int64_t a, int64_t b) {
  maxpool_fwd_f32(x, y, i, s, a, b);
}
inline void maxpool_fwd(const double* x, double* y, int64_t* i, const Pool2dShape& s, int64_t a, int64_t b) {
  maxpool_fwd_f64(x, y, i, s, a, b);
}
inline void avgpool_fwd(const float* x, float* y, const Pool2dShape& s, bool ip, int64_t a, int64_t b) {
  avgpool_fwd_f32(x, y, s, ip, a, b);
}
inline void avgpool_fwd(const double* x, double* y, const Pool2dShape& s, bool ip, int64_t a, int64_t b) {
  avgpool_fwd_f64(x, y, s, ip, a, b);
}
inline void avgpool_bwd(const float* g, float* gx, const Pool2dShape& s, bool ip, int64_t a, int64_t b) {
  avgpool_bwd_f32(g, gx, s, ip, a, b);
}
inline void avgpool_bwd(const double* g, double* gx, const Pool2dShape& s, bool ip, int64_t a, int64_t b) {
  avgpool_bwd_f64(g, gx, s, ip, a, b);
}

void check_shape(const Pool2dShape& s) {
  assert(s.kh >= 1 && s.kw >= 1 && s.sh >= 1 && s.sw >= 1);
  assert(s.ph >= 0 && 2 * s.ph <= s.kh && s.pw >= 0 && 2 * s.pw <= s.kw);
  assert(s.kh <= s.h + 2 * s.ph && s.kw <= s.w + 2 * s.pw);
  assert(s.h * s.w < std::numeric_limits<int32_t>::max());
  (void)s;
}

}  // namespace

template <class T>
void max_pool2d_forward(const T* x, T* y, int64_t* idx, const Pool2dShape& s) {
  check_shape(s);
  const int64_t planes = s.n * s.c;
#pragma omp parallel num_threads(threads_for(s.n * s.c * s.h * s.w))
  {
    int64_t b, e;
    thread_range(planes, omp_get_thread_num(), omp_get_num_threads(), b, e);
    if (b < e) maxpool_fwd(x, y, idx, s, b, e);
  }
}

template <class T>
int64_t max_pool2d_backward(const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c;
  int64_t bad = 0;
#pragma omp parallel num_threads(threads_for(s.n * s.c * s.h * s.w)) reduction(+ : bad)
  {
    int64_t b, e;
    thread_range(planes, omp_get_thread_num(), omp_get_num_threads(), b, e);
    maxpool_bwd_planes(gy, idx, gx, s, b, e, bad);
  }
  return bad;
}

template <class T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dShape& s, bool count_include_pad) {
  check_shape(s);
  const int64_t planes = s.n * s.c;
#pragma omp parallel num_threads(threads_for(s.n * s.c * s.h * s.w))
  {
    int64_t b, e;
    thread_range(planes, omp_get_thread_num(), omp_get_num_threads(), b, e);
    if (b < e) avgpool_fwd(x, y, s, count_include_pad, b, e);
  }
}

template <class T>
void avg_pool2d_backward(const T* gy, T* gx, const Pool2dShape& s, bool count_include_pad) {
  check_shape(s);
  const int64_t planes = s.n * s.c;
#pragma omp parallel num_threads(threads_for(s.n * s.c * s.h * s.w))
  {
    int64_t b, e;
    thread_range(planes, omp_get_thread_num(), omp_get_num_threads(), b, e);
    if (b < e) avgpool_bwd(gy, gx, s, count_include_pad, b, e);
  }
}

template void max_pool2d_forward<float>(const float*, float*, int64_t*, const Pool2dShape&);
template void max_pool2d_forward<double>(const double*, double*, int64_t*, const Pool2dShape&);
template int64_t max_pool2d_backward<float>(const float*, const int64_t*, float*, const Pool2dShape&);
template int64_t max_pool2d_backward<double>(const double*, const int64_t*, double*, const Pool2dShape&);
template void avg_pool2d_forward<float>(const float*, float*, const Pool2dShape&, bool);
template void avg_pool2d_forward<double>(const double*, double*, const Pool2dShape&, bool);
template void avg_pool2d_backward<float>(const float*, float*, const Pool2dShape&, bool);
template void avg_pool2d_backward<double>(const double*, double*, const Pool2dShape&, bool);

}  // namespace nnk
