// Max pooling by direct, separable loops (see pool2d.h): for each output row a vertical pass
// takes the maximum of the (clamped) window rows into a W-wide row buffer (contiguous,
// vectorised), then a horizontal pass takes the maximum of KW strided taps of that buffer
// per output column (tap-outer, column-inner, so it vectorises too; the few edge columns
// whose windows reach into the padding take their clamped taps one by one). The flat input index of
// the running maximum travels beside the value (int32 in the buffers, int64 in the output);
// ties go to the smaller flat index, i.e. the first maximum in row-major window order, like
// np.argmax. Work items are the N*C planes: a thread owns whole planes, so there are no
// races and the backward scatter has a fixed order.
#include <algorithm>
#include <atomic>
#include <limits>
#include "nnk_common.h"
#include "pool2d.h"

namespace nnk {
namespace {

using namespace pool2d_detail;

// v replaces the running maximum m (flat index fm) when it is larger, or equal with a smaller
// index, or the first NaN; a NaN maximum is only replaced by a NaN with a smaller index.
template <class T>
NNK_INLINE bool takes_over(T v, int32_t f, T m, int32_t fm) {
  const bool vnan = v != v, mnan = m != m;
  return (v > m) | ((v == m) & (f < fm)) | (vnan & !mnan) | (vnan & mnan & (f < fm));
}

// ---- horizontal passes: cv/cf (values, flat indices) of a row buffer -> yr/fr, s.ow outputs --
// The general pass: s.kw taps of stride SW (0: the runtime stride), with or without indices.
template <class T, bool Idx, int SW>
NNK_INLINE void max_pool2d_hpass_general(const T* NNK_RESTRICT cv, const int32_t* NNK_RESTRICT cf,
                                         T* NNK_RESTRICT yr, int32_t* NNK_RESTRICT fr, const Pool2dShape& s) {
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

// Fast path for the value-only KWxSW windows (3x3 stride 2: AlexNet; 2x2 stride 2): compile-time
// taps and stride, one pass, the taps in registers.
template <class T, int KW, int SW>
NNK_INLINE void max_pool2d_hpass_k_s(const T* NNK_RESTRICT cv, T* NNK_RESTRICT yr, int64_t ow_n) {
  for (int64_t ow = 0; ow < ow_n; ++ow) {
    T m = cv[ow * SW];
    for (int j = 1; j < KW; ++j) {
      const T v = cv[ow * SW + j];
      m = (v > m) | (v != v) ? v : m;
    }
    yr[ow] = m;
  }
}

// The one dispatch: the horizontal pass for this window shape.
template <class T, bool Idx>
NNK_INLINE void max_pool2d_hpass(const T* cv, const int32_t* cf, T* yr, int32_t* fr, const Pool2dShape& s) {
  if (!Idx && s.kw == 3 && s.sw == 2) return max_pool2d_hpass_k_s<T, 3, 2>(cv, yr, s.ow);
  if (!Idx && s.kw == 2 && s.sw == 2) return max_pool2d_hpass_k_s<T, 2, 2>(cv, yr, s.ow);
  if (s.sw == 1) return max_pool2d_hpass_general<T, Idx, 1>(cv, cf, yr, fr, s);
  if (s.sw == 2) return max_pool2d_hpass_general<T, Idx, 2>(cv, cf, yr, fr, s);
  max_pool2d_hpass_general<T, Idx, 0>(cv, cf, yr, fr, s);
}

// An edge column (see interior_columns): its clamped taps in column order, by the rule of the
// general pass (the taps it skips were padding, which never takes over).
template <class T, bool Idx>
NNK_INLINE void max_pool2d_edge(const T* cv, const int32_t* cf, T* yr, int32_t* fr, const Pool2dShape& s,
                                int64_t ow) {
  int64_t lo, hi;
  window_columns(s, ow, lo, hi);
  T m = cv[lo];
  int32_t fm = Idx ? cf[lo] : 0;
  for (int64_t t = lo + 1; t < hi; ++t) {
    const T v = cv[t];
    if (Idx) {
      if (takes_over(v, cf[t], m, fm)) m = v, fm = cf[t];
    } else {
      m = (v > m) | (v != v) ? v : m;
    }
  }
  yr[ow] = m;
  if (Idx) fr[ow] = fm;
}

// One output row from the W-wide row buffer: interior columns vectorised, edge columns clamped.
template <class T, bool Idx>
NNK_INLINE void max_pool2d_hrow(const T* cv, const int32_t* cf, T* yr, int32_t* fr, const Pool2dShape& s,
                                Interior in) {
  const int64_t off = interior_offset(s, in);
  if (in.b > in.a) max_pool2d_hpass<T, Idx>(cv + off, Idx ? cf + off : cf, yr + in.a, Idx ? fr + in.a : fr,
                                            interior_shape(s, in));
  for (int64_t ow = 0; ow < in.a; ++ow) max_pool2d_edge<T, Idx>(cv, cf, yr, fr, s, ow);
  for (int64_t ow = in.b; ow < s.ow; ++ow) max_pool2d_edge<T, Idx>(cv, cf, yr, fr, s, ow);
}

// ---- forward over planes [p0, p1) ------------------------------------------------------------
template <class T, bool Idx>
NNK_INLINE void max_pool2d_planes(const T* x, T* y, int64_t* idx, const Pool2dShape& s, int64_t p0, int64_t p1) {
  const int64_t H = s.h, W = s.w, OW = s.ow;
  const bool flat = flat_columns(s);
  const Interior in = interior_columns(s);
  Pool2dShape fs = s;  // the flat horizontal pass: one "row" of OH*OW outputs
  fs.ow = s.oh * s.ow;
  const int64_t nbuf = flat ? s.oh * W : W, nout = flat ? fs.ow : OW;
  auto cvb = scratch<T>(nbuf);
  auto cfb = scratch<int32_t>(Idx ? nbuf + nout : 1);
  T* NNK_RESTRICT cv = cvb.get();
  int32_t* NNK_RESTRICT cf = cfb.get();
  int32_t* NNK_RESTRICT fr = Idx ? cf + nbuf : cf;  // output indices before widening
  for (int64_t p = p0; p < p1; ++p) {
    const T* xp = x + p * H * W;
    for (int64_t oh = 0; oh < s.oh; ++oh) {
      // vertical pass into column iw of the row buffer (flat: row oh of the plane buffer)
      T* NNK_RESTRICT cvi = flat ? cv + oh * W : cv;
      int32_t* NNK_RESTRICT cfi = flat && Idx ? cf + oh * W : cf;
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
      max_pool2d_hrow<T, Idx>(cv, cf, y + (p * s.oh + oh) * OW, fr, s, in);
      if (Idx) {
        int64_t* ir = idx + (p * s.oh + oh) * OW;
        for (int64_t ow = 0; ow < OW; ++ow) ir[ow] = fr[ow];
      }
    }
    if (!flat) continue;
    max_pool2d_hpass<T, Idx>(cv, cf, y + p * fs.ow, fr, fs);
    if (Idx) {
      int64_t* ir = idx + p * fs.ow;
      for (int64_t q = 0; q < fs.ow; ++q) ir[q] = fr[q];
    }
  }
}

// ---- backward over planes [p0, p1): scatter-add in output order; `bad` counts bad indices ---
template <class T>
NNK_INLINE void max_pool2d_backward_planes(const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s, int64_t p0,
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

NNK_ISA_CLONES(max_pool2d_forward, (const T* x, T* y, int64_t* idx, const Pool2dShape& s, int64_t p0, int64_t p1),
               idx ? max_pool2d_planes<T, true>(x, y, idx, s, p0, p1)
                   : max_pool2d_planes<T, false>(x, y, idx, s, p0, p1))
NNK_ISA_CLONES(max_pool2d_backward,
               (const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s, int64_t p0, int64_t p1, int64_t& bad),
               max_pool2d_backward_planes<T>(gy, idx, gx, s, p0, p1, bad))

}  // namespace

template <class T>
void max_pool2d_forward(const T* x, T* y, int64_t* idx, const Pool2dShape& s) {
  assert_contract(s);
  parallel_ranges(s.n * s.c, items_per_grain(grain::kRows, s.h * s.w),
                  [&](int64_t b, int64_t e) { max_pool2d_forward_isa<T>(x, y, idx, s, b, e); });
}

template <class T>
int64_t max_pool2d_backward(const T* gy, const int64_t* idx, T* gx, const Pool2dShape& s) {
  std::atomic<int64_t> bad{0};
  parallel_ranges(s.n * s.c, items_per_grain(grain::kRows, s.h * s.w), [&](int64_t b, int64_t e) {
    int64_t n = 0;
    max_pool2d_backward_isa<T>(gy, idx, gx, s, b, e, n);
    bad += n;
  });
  return bad;
}

template void max_pool2d_forward<float>(const float*, float*, int64_t*, const Pool2dShape&);
template void max_pool2d_forward<double>(const double*, double*, int64_t*, const Pool2dShape&);
template int64_t max_pool2d_backward<float>(const float*, const int64_t*, float*, const Pool2dShape&);
template int64_t max_pool2d_backward<double>(const double*, const int64_t*, double*, const Pool2dShape&);

}  // namespace nnk
