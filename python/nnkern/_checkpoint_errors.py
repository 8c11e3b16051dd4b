"""The exceptions of nnkern's file readers (re-exported by :mod:`nnkern.checkpoint`)."""
import pickle


class CheckpointError(ValueError):
    """A checkpoint or parameter file that does not fit the model (names, shapes, dtypes), is
    not an nnkern checkpoint, or is unreadable (truncated, corrupted, over a size limit)."""


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle that asks for something other than NumPy arrays, dtypes and dicts, or whose
    object graph is deeper than the reader allows."""


CheckpointError.__module__ = UnsafePickleError.__module__ = "nnkern.checkpoint"
