// Run-time ISA dispatch of nnkern's GEMM (see gemm.h). Baseline x86-64 code: it only reads
// the ISA units' constant tables and calls through them once the CPU check has passed.
#include "gemm.h"
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include "gemm_ops.h"

namespace nnk {

bool gemm_isa_supported(Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();  // __builtin_cpu_supports also checks the OS saves the registers (XCR0)
  switch (isa) {
    case Isa::Avx512:
#if defined(NNK_NO_AVX512)
      return false;
#endif
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Generic:
      return true;
  }
#endif
  return isa == Isa::Generic;
}

Isa gemm_isa_best() {
  if (gemm_isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (gemm_isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Generic;
}

const char* gemm_isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Generic: return "generic";
  }
  return "?";
}

bool gemm_isa_parse(const char* name, Isa& isa) {
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (std::strcmp(name, gemm_isa_name(i)) == 0) {
      isa = i;
      return true;
    }
  return false;
}

namespace {
char g_note[160] = "";

// The best supported ISA, capped by NNKERN_ISA.
Isa initial_isa() {
  const Isa best = gemm_isa_best();
  const char* env = std::getenv("NNKERN_ISA");
  if (!env || !*env) return best;
  Isa want;
  if (!gemm_isa_parse(env, want)) {
    std::snprintf(g_note, sizeof g_note, "NNKERN_ISA=%.40s is not one of avx512, avx2, generic: ignored", env);
    return best;
  }
  if (static_cast<int>(want) > static_cast<int>(best)) {
    std::snprintf(g_note, sizeof g_note, "NNKERN_ISA=%s is not supported by this CPU: using %s", env,
                  gemm_isa_name(best));
    return best;
  }
  return want;
}

std::atomic<int>& isa_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

template <class T>
const GemmOps<T>& ops(Isa isa);
template <>
const GemmOps<float>& ops<float>(Isa isa) {
  return isa == Isa::Avx512 ? kGemmAvx512F32 : isa == Isa::Avx2 ? kGemmAvx2F32 : kGemmGenericF32;
}
template <>
const GemmOps<double>& ops<double>(Isa isa) {
  return isa == Isa::Avx512 ? kGemmAvx512F64 : isa == Isa::Avx2 ? kGemmAvx2F64 : kGemmGenericF64;
}
}  // namespace

Isa gemm_isa() { return static_cast<Isa>(isa_slot().load(std::memory_order_relaxed)); }

const char* gemm_isa_note() {
  gemm_isa();  // make sure the environment has been read
  return g_note;
}

bool gemm_set_isa(Isa isa) {
  if (!gemm_isa_supported(isa)) return false;
  isa_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

template <class T>
GemmBlocking gemm_blocking(Isa isa) {
  const GemmOps<T>& o = ops<T>(isa);
  return {o.mr, o.nr, o.kc, o.mc, o.nc};
}

template <class T>
int64_t gemm_work_size() {  // the largest over the ISAs, so a packed A of any ISA fits
  int64_t w = 0;
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    const GemmOps<T>& o = ops<T>(i);
    w = o.work_gemm > w ? o.work_gemm : w;
  }
  return w;
}

template <class T>
void gemm_nnk(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
              int64_t ldb, T beta, T* c, int64_t ldc, T* work) {
  ops<T>(gemm_isa()).gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, work);
}

template <class T>
int64_t gemm_packed_a_size(int64_t m, int64_t k) {
  const int64_t mr = ops<T>(gemm_isa()).mr;
  return (m + mr - 1) / mr * mr * k;
}

template <class T>
GemmPackedA<T> gemm_pack_a(bool ta, int64_t m, int64_t k, const T* a, int64_t lda, T* data) {
  const Isa isa = gemm_isa();
  ops<T>(isa).pack_a(ta, m, k, a, lda, data);
  return {isa, m, k, data};
}

template <class T>
void gemm_packed_a(const GemmPackedA<T>& a, bool tb, int64_t n, const T* b, int64_t ldb, T alpha, T beta, T* c,
                   int64_t ldc, T* work) {
  ops<T>(a.isa).packed(a.data, a.m, a.k, tb, n, b, ldb, alpha, beta, c, ldc, work);
}

template <class T>
int64_t gemm_packed_b_size(int64_t k, int64_t n) {
  int64_t nr = 1;  // the widest NR over the ISAs, so that a packing of any ISA fits
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512}) nr = ops<T>(i).nr > nr ? ops<T>(i).nr : nr;
  return (n + nr - 1) / nr * nr * k;
}

template <class T>
GemmPackedB<T> gemm_pack_b(bool tb, int64_t k, int64_t n, const T* b, int64_t ldb, T* data) {
  const Isa isa = gemm_isa();
  ops<T>(isa).pack_b(tb, k, n, b, ldb, data);
  return {isa, k, n, data};
}

template <class T>
GemmPackedB<T> gemm_packed_b_layout(int64_t k, int64_t n, T* data) {
  return {gemm_isa(), k, n, data};
}

template <class T>
int gemm_packed_b_nr(const GemmPackedB<T>& b) {
  return ops<T>(b.isa).nr;
}

template <class T>
void gemm_packed_b_row(const GemmPackedB<T>& b, int64_t kk, int64_t* offset, int64_t* strip) {
  ops<T>(b.isa).packed_b_row(b.k, b.n, kk, offset, strip);
}

template <class T>
void gemm_strided_a(int64_t m, const T* a, int64_t lda, const GemmPackedB<T>& b, T* c, int64_t ldc,
                    bool accumulate) {
  ops<T>(b.isa).strided_a(m, b.k, a, lda, b.data, b.n, c, ldc, accumulate);
}

#define NNK_GEMM_INSTANTIATE(T)                                                                                  \
  template GemmBlocking gemm_blocking<T>(Isa);                                                                   \
  template int64_t gemm_work_size<T>();                                                                          \
  template void gemm_nnk<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T,  \
                            T*, int64_t, T*);                                                                     \
  template int64_t gemm_packed_a_size<T>(int64_t, int64_t);                                                      \
  template GemmPackedA<T> gemm_pack_a<T>(bool, int64_t, int64_t, const T*, int64_t, T*);                         \
  template void gemm_packed_a<T>(const GemmPackedA<T>&, bool, int64_t, const T*, int64_t, T, T, T*, int64_t, T*); \
  template int64_t gemm_packed_b_size<T>(int64_t, int64_t);                                                      \
  template GemmPackedB<T> gemm_pack_b<T>(bool, int64_t, int64_t, const T*, int64_t, T*);                         \
  template GemmPackedB<T> gemm_packed_b_layout<T>(int64_t, int64_t, T*);                                        \
  template int gemm_packed_b_nr<T>(const GemmPackedB<T>&);                                                       \
  template void gemm_packed_b_row<T>(const GemmPackedB<T>&, int64_t, int64_t*, int64_t*);                        \
  template void gemm_strided_a<T>(int64_t, const T*, int64_t, const GemmPackedB<T>&, T*, int64_t, bool);
NNK_GEMM_INSTANTIATE(float)
NNK_GEMM_INSTANTIATE(double)
#undef NNK_GEMM_INSTANTIATE

}  // namespace nnk
