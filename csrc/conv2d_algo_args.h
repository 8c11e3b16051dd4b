// The `algo` argument of the conv2d bindings: parse the name and check that a forced
// algorithm applies to the shape, pass and dtype, before any memory is touched.
#pragma once
#include <string>
#include "conv2d.h"

namespace nnk_py {

// ValueError for an unknown name, for an algorithm this build lacks, or for a forced
// algorithm that does not apply ("conv2d_forward: algo='winograd' does not apply to ...").
nnk::ConvAlgo conv_algo_arg(const char* fn, const std::string& name, const nnk::Conv2dShape& s,
                            nnk::ConvPass pass, nnk::ConvDtype dt);
// Just the name -> enum step (ValueError for an unknown name); `what` names the argument.
nnk::ConvAlgo conv_algo_from_arg(const char* fn, const char* what, const std::string& name);

}  // namespace nnk_py
