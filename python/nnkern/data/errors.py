"""The errors of nnkern.data's loaders."""


class DataError(ValueError):
    """A data file is unreadable: truncated, corrupted, of the wrong format or inconsistent."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file or folder does not exist."""
