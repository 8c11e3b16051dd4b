// nnkern's own GEMM (float32 and float64 through the same code): BLIS-style blocking
// (K blocks of KC, B blocks of KC x NC packed for L2, A micro-panels of KC x MR for L1),
// both operands packed into contiguous panels, register-blocked micro-kernels for AVX-512
// (12 x 32 floats / 12 x 16 doubles), AVX2+FMA (6 x 16 / 6 x 8) and a portable SSE2 one
// (4 x 8 / 4 x 4), chosen once at run time. The build stays baseline x86-64: the ISA code
// lives in units compiled with their own flags (src/gemm_<isa>.cpp) and runs only after
// __builtin_cpu_supports said yes. Edges (m, n not multiples of the tile, k not of KC) go
// through the same arithmetic (zero-padded panels, a full-width copy of edge tiles).
//
// Contract of every entry point: row-major, C = alpha * op(A) * op(B) + beta * C with
// op(X) = X^T when trans_x; beta == 0 never reads C (NaN there is dropped, as BLAS does);
// alpha == 0 or k == 0 gives beta * C. Single-threaded and allocation-free (the caller hands
// in `work`), so it may run inside parallel regions, and deterministic: an element's value
// depends only on (m, n, k, ISA), never on where its tile lies or on the caller's threading.
// Each dot product is summed in k order with fused multiply-adds (AVX2/AVX-512; SSE2 rounds
// the product and the sum separately), in K blocks of KC whose partial sums are added to C
// in order; its float32 error is bounded like any length-k dot product (~ k * eps * sum|a*b|
// in the worst case, ~ sqrt(k) * eps typically).
//
// Use from other kernels (e.g. Winograd's transform-domain products): pack the constant
// operand once with gemm_pack_a, then call gemm_packed_a for each right-hand side, with
// gemm_work_size() elements of per-thread `work` allocated before any parallel region. A
// packed A records the ISA it was packed for and is always consumed by that ISA's kernels.
//
// ISA choice: the best the CPU supports, capped by the environment variable NNKERN_ISA
// (avx512 | avx2 | generic), read once; a request the CPU cannot run falls back to the best
// it can (gemm_isa_note() says so). Tests switch paths with gemm_set_isa.
#pragma once
#include <cstdint>

namespace nnk {

enum class Isa : int { Generic = 0, Avx2 = 1, Avx512 = 2 };

Isa gemm_isa();                         // the ISA in use
Isa gemm_isa_best();                    // the best one this CPU supports
bool gemm_isa_supported(Isa isa);       // CPU (and OS register state) support
const char* gemm_isa_name(Isa isa);     // "avx512", "avx2", "generic"
bool gemm_isa_parse(const char* name, Isa& isa);
const char* gemm_isa_note();            // "" or why NNKERN_ISA was not honoured
// Switches the ISA used from now on (false, nothing changed, if the CPU lacks it). Not for
// use while another thread runs a kernel.
bool gemm_set_isa(Isa isa);

struct GemmBlocking {
  int mr, nr, kc, mc, nc;
};
template <class T>
GemmBlocking gemm_blocking(Isa isa);

// Elements of `work` gemm_nnk / gemm_packed_a need (for the ISA in use).
template <class T>
int64_t gemm_work_size();

template <class T>
void gemm_nnk(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
              const T* b, int64_t ldb, T beta, T* c, int64_t ldc, T* work);

// op(A) (m x k) packed once, for gemm_packed_a. Owns nothing: `data` holds
// gemm_packed_a_size<T>(m, k) elements provided by the caller.
template <class T>
struct GemmPackedA {
  Isa isa;
  int64_t m, k;
  T* data;
};
template <class T>
int64_t gemm_packed_a_size(int64_t m, int64_t k);
template <class T>
GemmPackedA<T> gemm_pack_a(bool trans_a, int64_t m, int64_t k, const T* a, int64_t lda, T* data);
// C (m x n) = alpha * A * op(B) + beta * C; work holds gemm_work_size<T>() elements.
template <class T>
void gemm_packed_a(const GemmPackedA<T>& a, bool trans_b, int64_t n, const T* b, int64_t ldb, T alpha, T beta, T* c,
                   int64_t ldc, T* work);

// op(B) (k x n) packed once, for gemm_strided_a (the constant right-hand side of many
// products, e.g. Winograd's transformed filters). Owns nothing: `data` holds
// gemm_packed_b_size<T>(k, n) elements provided by the caller.
template <class T>
struct GemmPackedB {
  Isa isa;
  int64_t k, n;
  T* data;
};
template <class T>
int64_t gemm_packed_b_size(int64_t k, int64_t n);
template <class T>
GemmPackedB<T> gemm_pack_b(bool trans_b, int64_t k, int64_t n, const T* b, int64_t ldb, T* data);
// The packed layout without packing anything (for producers that write it directly, e.g.
// Winograd's filter transform): element (kk, nn) of B lies at data + offset + (nn / nr) *
// strip + nn % nr, with gemm_packed_b_row(b, kk, ...) giving offset and strip; each aligned
// run of nr columns of a row is contiguous, and columns past n must be written as zeros.
template <class T>
GemmPackedB<T> gemm_packed_b_layout(int64_t k, int64_t n, T* data);
template <class T>
int gemm_packed_b_nr(const GemmPackedB<T>& b);
template <class T>
void gemm_packed_b_row(const GemmPackedB<T>& b, int64_t kk, int64_t* offset, int64_t* strip);
// C (m x n) = A * B, or C += A * B when `accumulate`, with A (m x k) row-major at stride lda
// read in place (no packing pass, no work buffer). Each element is summed in k order as in
// gemm_nnk, in K blocks of the ISA's KCS (longer than KC: only the A strip must stay in L1).
template <class T>
void gemm_strided_a(int64_t m, const T* a, int64_t lda, const GemmPackedB<T>& b, T* c, int64_t ldc,
                    bool accumulate);

}  // namespace nnk
