// Convolution by direct summation (no column matrix, no GEMM) for few input channels per group,
// forward only: y[n][o][oh][ow] = b[o] + sum over c, i, j of w[o][c][i][j] x[n][g cg + c][oh + i - ph][ow + j - pw].
// For layers such as MNIST's first (1 input channel, K = C KH KW = 25), where im2col's column
// matrix costs as much as its short GEMM. Work items are (image, group, block of up to 6 output
// channels), so a batch of one still has several; each zero-pads its group's cg <=
// kDirectMaxChannels input planes into per-thread scratch (rows of max(OW, lanes) + KW - 1, so
// every tap's vector load is in bounds), then computes its channels' output rows in register
// blocks of 6 channels x 2 rows x one vector of columns: each weight broadcast serves two
// multiply-adds, each input vector the block's channels.
// float32 and float64; stride 1, dilation 1, padding below the kernel size, any groups.
#pragma once
#include "conv2d.h"

namespace nnk {

// The most input channels per group the direct kernel takes (its padded planes are a per-thread
// scratch of cg x (H + 2 ph) x (max(OW, lanes) + KW - 1) elements).
constexpr int64_t kDirectMaxChannels = 4;
// The largest such scratch, in elements (64 MiB of float32): shapes whose padded planes are larger
// (or whose size arithmetic would overflow) are left to im2col, so the scratch stays bounded.
constexpr int64_t kDirectMaxScratch = int64_t(1) << 24;

bool conv2d_direct_applies(const Conv2dShape& s, ConvPass pass, ConvDtype dt);
template <class T>
void conv2d_direct_forward(const T* x, const T* w, const T* b, T* y, const Conv2dShape& s);

}  // namespace nnk
