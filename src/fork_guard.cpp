// pthread_atfork handlers: see fork_guard.h.
#include "fork_guard.h"
#include <omp.h>
#include <pthread.h>
#include <atomic>
#include "blas.h"
#include "nnk_common.h"

namespace nnk {

namespace {
std::atomic<bool> g_child{false};
std::atomic<bool> g_warned{false};

void prepare() { blas_fork_prepare(); }
void parent() { blas_fork_parent(); }
void child() {
  g_child.store(true);
  g_warned.store(false);
  blas_fork_child();
  omp_set_num_threads(1);  // also for regions without a num_threads clause (other libgomp users)
}

// Registered when the module loads (this file is linked in through in_fork_child, which
// num_threads uses).
[[maybe_unused]] const int g_registered = pthread_atfork(prepare, parent, child);
}  // namespace

bool in_fork_child() { return g_child.load(std::memory_order_relaxed); }

bool fork_child_warning_due() {
  return in_fork_child() && requested_num_threads() > 1 && !g_warned.exchange(true);
}

}  // namespace nnk
