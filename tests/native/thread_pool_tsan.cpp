// ThreadSanitizer harness for nnkern's fork-join pool (src/thread_pool.cpp), run by
// tools/tsan_thread_pool.sh in CI: four threads call parallel_items at once, 300 times each,
// with team sizes 2-4, nested calls, an item that throws, and workers that wake late (the
// join-delay hook). Each item writes plain ints that only it touches and per-slot scratch; the
// caller reads them after the join, so a missing happens-before edge is a TSan report, and a
// lost, repeated or wrongly-slotted item is a count in `bad`. Exit status 0: none.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>
#include "thread_pool.h"

namespace nnk {
bool in_fork_child() { return false; }  // fork_guard.cpp's, without the rest of the library
}  // namespace nnk

int main() {
  std::atomic<long> bad{0};
  auto caller = [&](int id) {
    for (int rep = 0; rep < 300; ++rep) {
      const int n = 1 + (rep * 7 + id) % 37, threads = 2 + rep % 3;
      const bool fail = rep % 11 == 0, nested = rep % 5 == 0;
      std::vector<int> hits(size_t(n), 0);
      std::vector<long> per_slot(size_t(threads), 0);
      try {
        nnk::parallel_items(n, threads, [&](int64_t i, int slot) {
          if (slot < 0 || slot >= threads) bad++;
          per_slot[size_t(slot)] += i;  // one item per slot at a time: no race
          hits[size_t(i)] += 1;
          if (nested) nnk::parallel_items(3, threads, [&](int64_t, int s) { bad += s != 0; });
          if (fail && i == n / 2) throw std::runtime_error("on purpose");
        });
        if (fail) bad++;  // the exception must have reached the caller
        for (int h : hits) bad += h != 1;
      } catch (const std::runtime_error&) {
        if (!fail) bad++;
      }
      if (id == 0 && rep == 100) nnk::pool_set_join_delay_us(2000);
      if (id == 0 && rep == 200) nnk::pool_set_join_delay_us(0);
    }
  };
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) callers.emplace_back(caller, i);
  for (auto& t : callers) t.join();
  std::printf("thread pool under TSan: %ld bad, %d workers\n", bad.load(), nnk::pool_workers());
  return bad.load() != 0;
}
