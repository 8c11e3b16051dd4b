"""Bar chart of benchmark speed-ups (nnkern vs the reference and vs PyTorch)."""
import textwrap

import numpy as np


def speedup_chart(rows, path, title):
    """rows: (family, name, t_nnkern, t_reference, t_torch, rate) as from compare.run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{fam}: {name}" for fam, name, *_ in rows]
    vs_ref = [r[3] / r[2] if r[3] else np.nan for r in rows]
    vs_torch = [r[4] / r[2] if r[4] else np.nan for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.5))
    ax.barh(y - 0.2, vs_ref, height=0.4, label="nnkern vs NumPy reference")
    ax.barh(y + 0.2, vs_torch, height=0.4, label="nnkern vs PyTorch")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up (time of the other / time of nnkern), log scale")
    ax.set_title("\n".join(textwrap.wrap(title, 120)), fontsize=7)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
