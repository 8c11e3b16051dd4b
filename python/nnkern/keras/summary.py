"""Keras 2's ``model.summary()`` table (channels-last shapes) for :class:`nnkern.keras.Sequential`."""
from collections import namedtuple

from .base import to_keras_shape

SummaryCounts = namedtuple("SummaryCounts", "total trainable non_trainable")


def count_params(layers):
    """SummaryCounts of a list of Keras layers."""
    tr = sum(lay.count_params()[0] for lay in layers)
    nt = sum(lay.count_params()[1] for lay in layers)
    return SummaryCounts(tr + nt, tr, nt)


def print_summary(name, layers, shapes, line_length=65, print_fn=print):
    """Print the table of ``layers`` with their internal output ``shapes``; return the counts."""
    positions = [int(line_length * p) for p in (0.45, 0.85, 1.0)]

    def row(fields):
        left = [str(f) for f in fields]
        while any(left):
            line = ""
            for col, start in enumerate([0] + positions[:-1]):
                space = 2 if col != len(positions) - 1 else 0
                cut = positions[col] - start - space  # Keras 2's print_row, wrapping long cells
                line += (" " if col == 0 else "") + left[col][:cut] + " " * space
                left[col] = left[col][cut:]
                line += " " * (positions[col] - len(line))
            print_fn(line.rstrip())

    print_fn(f'Model: "{name}"')
    print_fn("_" * line_length)
    row(["Layer (type)", "Output Shape", "Param #"])
    print_fn("=" * line_length)
    for i, (lay, shape) in enumerate(zip(layers, shapes)):
        row([f"{lay.name} ({type(lay).__name__})", to_keras_shape(shape), sum(lay.count_params())])
        print_fn("" if i < len(layers) - 1 else "=" * line_length)
    counts = count_params(layers)
    print_fn(f"Total params: {counts.total:,}")
    print_fn(f"Trainable params: {counts.trainable:,}")
    print_fn(f"Non-trainable params: {counts.non_trainable:,}")
    print_fn("_" * line_length)
    return counts
