"""Bar chart of benchmark speed-ups (nnkern vs the reference, and vs PyTorch when installed)."""
import textwrap

import numpy as np


def chart_series(rows):
    """(legend label, speed-ups) per comparison that has a measurement: no PyTorch series
    when torch is not installed, no reference series when the reference was not timed."""
    series = [("nnkern vs NumPy reference", [r.t_ref / r.t_nn if r.t_ref else np.nan for r in rows]),
              ("nnkern vs PyTorch", [r.t_th / r.t_nn if r.t_th else np.nan for r in rows])]
    return [(label, v) for label, v in series if not np.all(np.isnan(v))]


def speedup_chart(rows, path, title):
    """rows: compare.Row list; one bar per row and comparison (see chart_series)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.family}: {r.name}" for r in rows]
    series = chart_series(rows)
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.5))
    height = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series):
        ax.barh(y + (i - (len(series) - 1) / 2) * height, values, height=height, label=label)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up (time of the other / time of nnkern), log scale")
    ax.set_title("\n".join(textwrap.wrap(title, 120)), fontsize=7)
    if series:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
