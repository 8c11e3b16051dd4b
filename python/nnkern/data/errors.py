"""The errors of nnkern.data's loaders."""


class DataError(ValueError):
    """A data file is unreadable: truncated, corrupted, of the wrong format or inconsistent."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file or folder does not exist."""


def brief_shape(shape, keep=6):
    """A shape as an error message shows it: at most ``keep`` sizes, so that a forged header of
    153 dimensions gives a line, not a page: ``(1, 2, 3, ..., 152, 153) (153 dimensions)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) <= keep:
        return str(shape)
    head, tail = shape[:keep // 2], shape[-(keep - keep // 2):]
    return f"({', '.join(map(str, head))}, ..., {', '.join(map(str, tail))}) ({len(shape)} dimensions)"


def brief_int(n, digits=15):
    """An integer as an error message shows it: exact up to ``digits`` digits, else like
    ``1.23e+1432`` (products of forged sizes overflow every float)."""
    s = str(int(n))
    if len(s.lstrip("-")) <= digits:
        return s
    sign, s = ("-", s[1:]) if s[0] == "-" else ("", s)
    return f"{sign}{s[0]}.{s[1:3]}e+{len(s) - 1}"
