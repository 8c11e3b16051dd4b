"""The tolerance of a conv2d pass that ran with algo="auto": where the selection picked
Winograd, its per-element rounding-error bound (tests/test_conv2d_winograd.py) is the
tolerance, since it is looser than a plain dot product's; elsewhere the dot-product one."""
import nnkern
import numpy as np

PASS_OF = {"y": "forward", "y (no bias)": "forward", "grad_x": "backward_input", "grad_weight": "backward_weight"}


def auto_algo(x_shape, w_shape, kw, pass_, dtype):
    args = {k: kw[k] for k in ("stride", "padding", "dilation", "groups") if k in kw}
    return nnkern.conv_algo.conv2d_algo_for(x_shape, w_shape, pass_=pass_, dtype=np.dtype(dtype).name, **args)


def widen_for_auto_algo(c, t):
    """t (rtol/atol of the dot-product rule) for the output c.name of a conv2d case, or the
    Winograd bound (plus t's own allowance) where auto runs Winograd for that pass."""
    pass_ = PASS_OF.get(c.name)
    x, w, b = c.xs[0], c.xs[1], c.xs[2] if len(c.xs) > 2 and c.name == "y" else None
    if pass_ is None or auto_algo(x.shape, w.shape, c.kw, pass_, c.dtype) != "winograd":
        return t
    from test_conv2d_winograd import winograd_bound
    bound = winograd_bound(pass_, x, w, b, (c.grads or {}).get("y"), c.kw)
    return dict(rtol=0.0, atol=bound + t["atol"] + t["rtol"] * np.abs(c.ref))
