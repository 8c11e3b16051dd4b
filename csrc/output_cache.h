// Large kernel outputs reuse the memory of outputs that died (binding layer: allocation only).
//
// A fresh block from the OS costs a page fault and a page of zeroing per 4 KiB on first write:
// 11% of alexnet-conv1's forward (perf: clear_page_erms), and glibc hands large freed blocks
// back to the OS (mmap above its threshold, heap trimming), so a loop that allocates the same
// outputs every step pays it again whenever anything else in the process (another framework,
// a data loader) frees big blocks: deepconv-3x3's forward took 2.9 ms interleaved with
// PyTorch's against 1.6 ms alone, 1.7 ms with glibc's trimming turned off.
//
// Outputs of at least kMinBytes come from this cache: blocks of outputs that were freed, kept
// up to a byte cap (default 256 MiB, nnkern.set_output_cache / NNKERN_OUTPUT_CACHE, 0 = off)
// and handed out again for a request of the same size (or up to 1/8 smaller). Such an array is
// an ordinary writeable ndarray whose memory belongs to an _OutputBlock (`a.base`, a writable
// buffer; `a.flags.owndata` is False, so in-place `a.resize` refuses it); freeing the last view
// returns the block. NNKERN_OUTPUT_CACHE must be a plain decimal number of bytes (else: default).
// Callers hold the GIL (both paths run under it); a mutex guards the lists anyway.
#pragma once
#include <cstddef>
#include <cstdint>

namespace nnk_py {

constexpr size_t kOutputCacheMinBytes = size_t(1) << 20;

// A 64-byte-aligned block of at least `bytes` (the cache's, or new); nullptr on allocation failure.
void* output_cache_take(size_t bytes);
// Back to the cache (or freed, oldest blocks first, past the cap).
void output_cache_give(void* p);
// The cap in bytes (0: every block is freed at once) and what is cached now.
size_t output_cache_cap();
void output_cache_set_cap(size_t bytes);
size_t output_cache_bytes();
size_t output_cache_blocks();

}  // namespace nnk_py
