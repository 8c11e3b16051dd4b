// Strided convolutions through Winograd by polyphase decomposition: a k x k kernel at stride S
// (dilation 1) is S^2 phase kernels of r = ceil(k / S) taps per side, one for each (py, px) in
// [0, S)^2, and
//   y[o][i][j] = sum_{c, py, px, a, b} xp[c][S(i + a) + py][S(j + b) + px] w[o][c][Sa + py][Sb + px]
// (xp = x padded, w read as 0 past k) is the stride-1, unpadded r x r correlation of the phase
// planes X'[(c, py, px)][u][v] = xp[c][Su + py][Sv + px] (C S^2 channels, OH + r - 1 rows,
// OW + r - 1 columns) with W'[o][(c, py, px)][a][b] = w[o][c][Sa + py][Sb + px]. With r = 3 or 5
// that correlation is Winograd's (conv2d_winograd.cpp): AlexNet's 11x11 stride-4 first layer
// becomes a 3x3 correlation over 48 phase channels, 36 products per 16 outputs instead of 121
// taps x 3 channels. grad_x is X's part of the adjoint (gX' from Winograd's grad_x, then the
// phases scattered back: every pixel of x lies in exactly one phase plane, or in none when no
// output reads it), grad_weight W''s (Winograd's grad_weight on X', then the taps gathered back).
//
// Scratch: the phase planes of at most kPhaseBudget elements of images at a time (chunks set by
// the shape alone); grad_weight adds the chunks' weight gradients in chunk order. Rounding: that
// of Winograd on the phase problem (K = C S^2 / groups channels), plus for grad_weight one
// addition per further chunk.
#include <algorithm>
#include <atomic>
#include "conv2d_winograd.h"
#include "nnk_common.h"

namespace nnk {

constexpr int64_t kPhaseBudget = int64_t(1) << 22;  // elements of phase planes per chunk (16 MiB of floats)
static std::atomic<int64_t> g_phase_budget{kPhaseBudget};

int64_t conv2d_winograd_set_phase_budget(int64_t elements) {
  return g_phase_budget.exchange(elements > 0 ? elements : kPhaseBudget);
}

static int64_t phase_taps(const Conv2dShape& s) { return (s.kh + s.sh - 1) / s.sh; }

bool conv2d_winograd_phases_apply(const Conv2dShape& s) {
  const int64_t r = phase_taps(s);
  return s.sh > 1 && s.sh == s.sw && s.kh == s.kw && s.dh == 1 && s.dw == 1 && (r == 3 || r == 5);
}

// The stride-1 problem of nb images: X' (nb, C S^2, OH + r - 1, OW + r - 1), W'
// (OC, C S^2 / groups, r, r), no padding, the same output.
static Conv2dShape phase_shape(const Conv2dShape& s, int64_t nb) {
  const int64_t r = phase_taps(s), S2 = s.sh * s.sw;
  Conv2dShape p = s;
  p.n = nb, p.c = s.c * S2, p.h = s.oh + r - 1, p.w = s.ow + r - 1;
  p.kh = p.kw = r, p.sh = p.sw = 1, p.ph = p.pw = 0, p.dh = p.dw = 1;
  return p;
}

Conv2dShape conv2d_winograd_phase_shape(const Conv2dShape& s) { return phase_shape(s, s.n); }

static int64_t phase_chunk(const Conv2dShape& s) {
  const Conv2dShape p = phase_shape(s, 1);
  return std::clamp<int64_t>(g_phase_budget.load() / (p.c * p.h * p.w), 1, s.n);
}

// Columns v of a phase plane (phase px) that read inside x's w columns: [v0, v1).
static void inside_columns(const Conv2dShape& s, int64_t pw_cols, int64_t px, int64_t& v0, int64_t& v1) {
  const int64_t S = s.sw, off = px - s.pw;  // column S v + off of x
  v0 = std::min(pw_cols, off >= 0 ? 0 : (-off + S - 1) / S);
  v1 = std::clamp<int64_t>(s.w - off > 0 ? (s.w - off + S - 1) / S : 0, v0, pw_cols);
}

// Phase plane q = (c, py, px) of image n: X'[u][v] = xp[c][S u + py][S v + px] (to_phases), or
// the reverse (from_phases: x's pixels from their planes, 0 where no plane holds them).
template <class T>
static void to_phases(const T* x, T* xq, const Conv2dShape& s, const Conv2dShape& p, int64_t nb) {
  const int64_t S = s.sh, S2 = S * S;
  parallel_ranges(nb * p.c, items_per_grain(grain::kLight, p.h * p.w), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n = q / p.c, c = q % p.c / S2, py = q % S2 / S, px = q % S;
      const T* plane = x + (n * s.c + c) * s.h * s.w;
      T* out = xq + q * p.h * p.w;
      int64_t v0, v1;
      inside_columns(s, p.w, px, v0, v1);
      for (int64_t u = 0; u < p.h; ++u) {
        T* o = out + u * p.w;
        const int64_t y = S * u + py - s.ph;
        if (y < 0 || y >= s.h) {
          std::fill(o, o + p.w, T(0));
          continue;
        }
        const T* row = plane + y * s.w + px - s.pw;  // column S v of it is X'[u][v]
        std::fill(o, o + v0, T(0));
        for (int64_t v = v0; v < v1; ++v) o[v] = row[S * v];
        std::fill(o + v1, o + p.w, T(0));
      }
    }
  });
}

template <class T>
static void from_phases(const T* gq, T* gx, const Conv2dShape& s, const Conv2dShape& p, int64_t nb) {
  const int64_t S = s.sh;
  parallel_ranges(nb * s.c, items_per_grain(grain::kLight, s.h * s.w), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T* plane = gx + i * s.h * s.w;
      for (int64_t y = 0; y < s.h; ++y) {
        T* row = plane + y * s.w;
        const int64_t u = (y + s.ph) / S, py = (y + s.ph) % S;
        if (u >= p.h) {  // read by no output
          std::fill(row, row + s.w, T(0));
          continue;
        }
        for (int64_t px = 0; px < S; ++px) {  // x columns S v + px - pw come from phase px's plane
          const T* src = gq + (((i * S + py) * S + px) * p.h + u) * p.w;
          int64_t v0, v1;
          inside_columns(s, p.w, px, v0, v1);
          for (int64_t v = v0; v < v1; ++v) row[S * v + px - s.pw] = src[v];
        }
        // columns past S * p.w - pw are read by no output
        for (int64_t xx = std::max<int64_t>(0, S * p.w - s.pw); xx < s.w; ++xx) row[xx] = T(0);
      }
    }
  });
}

// Tap (a, b) of phase (py, px) of filter i = o * cg + c in W' <-> tap (S a + py, S b + px) of w, for
// every W' tap: f(index in W', index in w or -1 past the kernel).
template <class F>
static void for_each_phase_tap(const Conv2dShape& s, int64_t r, F&& f) {
  const int64_t S = s.sh, cg = s.c / s.groups;
  parallel_ranges(s.oc * cg, items_per_grain(grain::kLight, S * S * r * r), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t py = 0; py < S; ++py)
        for (int64_t px = 0; px < S; ++px)
          for (int64_t a = 0; a < r; ++a)
            for (int64_t b = 0; b < r; ++b) {
              const int64_t kp = S * a + py, kq = S * b + px;
              f((((i * S + py) * S + px) * r + a) * r + b, kp < s.kh && kq < s.kw ? (i * s.kh + kp) * s.kw + kq : -1);
            }
  });
}

// W' from w (0 for the taps past the kernel).
template <class T>
static void phase_weights(const T* w, T* wq, const Conv2dShape& s, int64_t r) {
  for_each_phase_tap(s, r, [&](int64_t at, int64_t in_w) { wq[at] = in_w >= 0 ? w[in_w] : T(0); });
}

template <class T>
void conv2d_winograd_phases_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s) {
  const int64_t chunk = phase_chunk(s);
  const Conv2dShape p1 = phase_shape(s, chunk);
  T* wq = workspace<T>(1, s.oc * (p1.c / s.groups) * p1.kh * p1.kw);  // may throw: nothing written yet
  T* xq = workspace<T>(0, chunk * p1.c * p1.h * p1.w);
  phase_weights(w, wq, s, p1.kh);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const Conv2dShape p = phase_shape(s, std::min(chunk, s.n - n0));
    to_phases(x + n0 * s.c * s.h * s.w, xq, s, p, p.n);
    conv2d_winograd_forward(xq, wq, b, y + n0 * s.oc * s.oh * s.ow, p);
  }
}

template <class T>
void conv2d_winograd_phases_backward_input(const T* gy, const T* w, T* gx, const Conv2dShape& s) {
  const int64_t chunk = phase_chunk(s);
  const Conv2dShape p1 = phase_shape(s, chunk);
  T* wq = workspace<T>(1, s.oc * (p1.c / s.groups) * p1.kh * p1.kw);
  T* gq = workspace<T>(0, chunk * p1.c * p1.h * p1.w);
  phase_weights(w, wq, s, p1.kh);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const Conv2dShape p = phase_shape(s, std::min(chunk, s.n - n0));
    conv2d_winograd_backward_input(gy + n0 * s.oc * s.oh * s.ow, wq, gq, p);
    from_phases(gq, gx + n0 * s.c * s.h * s.w, s, p, p.n);
  }
}

template <class T>
void conv2d_winograd_phases_backward_weight(const T* gy, const T* x, T* gw, const Conv2dShape& s) {
  const int64_t chunk = phase_chunk(s);
  const Conv2dShape p1 = phase_shape(s, chunk);
  const int64_t wn = s.oc * (p1.c / s.groups) * p1.kh * p1.kw;
  T* gwq = workspace<T>(1, 2 * wn);  // the sum so far, and one chunk's part
  T* xq = workspace<T>(0, chunk * p1.c * p1.h * p1.w);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const Conv2dShape p = phase_shape(s, std::min(chunk, s.n - n0));
    to_phases(x + n0 * s.c * s.h * s.w, xq, s, p, p.n);
    conv2d_winograd_backward_weight(gy + n0 * s.oc * s.oh * s.ow, xq, n0 ? gwq + wn : gwq, p);
    if (n0)
      for (int64_t i = 0; i < wn; ++i) gwq[i] += gwq[wn + i];
  }
  for_each_phase_tap(s, p1.kh, [&](int64_t at, int64_t in_w) {
    if (in_w >= 0) gw[in_w] = gwq[at];
  });
}

#define NNK_PHASES_INSTANTIATE(T)                                                                        \
  template void conv2d_winograd_phases_forward<T>(const T*, const T*, const T*, T*, const Conv2dShape&); \
  template void conv2d_winograd_phases_backward_input<T>(const T*, const T*, T*, const Conv2dShape&);    \
  template void conv2d_winograd_phases_backward_weight<T>(const T*, const T*, T*, const Conv2dShape&);
NNK_PHASES_INSTANTIATE(float)
NNK_PHASES_INSTANTIATE(double)

}  // namespace nnk
