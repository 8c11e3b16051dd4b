// The output cache: see output_cache.h. Blocks carry a 64-byte header with their size in front
// of the data; the cache keeps freed blocks in age order (oldest evicted first) and finds one
// for a request by size.
#include "output_cache.h"
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>

namespace nnk_py {
namespace {

constexpr size_t kHeader = 64;
constexpr size_t kDefaultCap = size_t(256) << 20;

struct Cache {
  std::mutex mu;
  size_t cap = initial_cap();
  size_t bytes = 0;
  std::list<void*> age;                                               // raw blocks, oldest first
  std::multimap<size_t, std::list<void*>::iterator> by_size;          // block size -> its place in `age`

  static size_t initial_cap() {
    const char* e = std::getenv("NNKERN_OUTPUT_CACHE");  // bytes; 0 turns the cache off
    if (!e || *e < '0' || *e > '9') return kDefaultCap;  // unset, empty, signed or spaced: the default
    char* end = nullptr;
    const unsigned long long v = std::strtoull(e, &end, 10);
    return end && *end == '\0' ? size_t(v) : kDefaultCap;
  }
};

// Never destroyed: blocks still cached at exit stay reachable (no leak report), and a capsule
// freed during interpreter teardown still finds the cache.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

size_t& size_of(void* raw) { return *static_cast<size_t*>(raw); }

void evict_to(Cache& c, size_t limit) {  // caller holds c.mu
  while (c.bytes > limit && !c.age.empty()) {
    void* raw = c.age.front();
    const size_t sz = size_of(raw);
    for (auto it = c.by_size.lower_bound(sz); it != c.by_size.end() && it->first == sz; ++it)
      if (*it->second == raw) {
        c.by_size.erase(it);
        break;
      }
    c.age.pop_front();
    c.bytes -= sz;
    std::free(raw);
  }
}

}  // namespace

void* output_cache_take(size_t bytes) {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.by_size.lower_bound(bytes);
    if (it != c.by_size.end() && it->first - bytes <= it->first / 8) {
      void* raw = *it->second;
      c.age.erase(it->second);
      c.by_size.erase(it);
      c.bytes -= size_of(raw);
      return static_cast<char*>(raw) + kHeader;
    }
  }
  if (bytes > SIZE_MAX - 2 * kHeader) return nullptr;
  const size_t total = (bytes + kHeader + 63) / 64 * 64;
  void* raw = std::aligned_alloc(64, total);
  if (!raw) return nullptr;
  size_of(raw) = bytes;
  return static_cast<char*>(raw) + kHeader;
}

void output_cache_give(void* p) {
  if (!p) return;
  void* raw = static_cast<char*>(p) - kHeader;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  const size_t sz = size_of(raw);
  if (sz > c.cap) {
    std::free(raw);
    return;
  }
  evict_to(c, c.cap - sz);
  c.age.push_back(raw);
  c.by_size.emplace(sz, std::prev(c.age.end()));
  c.bytes += sz;
}

size_t output_cache_cap() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cap;
}

void output_cache_set_cap(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.cap = bytes;
  evict_to(c, bytes);
}

size_t output_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

size_t output_cache_blocks() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.age.size();
}

}  // namespace nnk_py
