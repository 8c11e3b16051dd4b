// The one-time RuntimeWarning of a forked child (see src/fork_guard.h). Call it with the GIL
// held, before a kernel releases it; under warnings-as-errors it raises.
#pragma once
#include <pybind11/pybind11.h>
#include "fork_guard.h"

namespace nnk_py {

inline void warn_if_fork_child() {
  if (!nnk::fork_child_warning_due()) return;
  if (PyErr_WarnEx(PyExc_RuntimeWarning,
                   "nnkern: this process was forked (os.fork, or multiprocessing's 'fork' start method) after "
                   "nnkern was loaded; nnkern's thread pool does not survive fork, so every nnkern kernel runs on "
                   "one thread here and set_num_threads cannot change that. To use threads in worker processes, "
                   "start them with multiprocessing.get_context('spawn') or 'forkserver'.",
                   1) < 0)
    throw pybind11::error_already_set();
}

}  // namespace nnk_py
