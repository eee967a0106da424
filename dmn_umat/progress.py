"""Progress bars for long work (one place): a tqdm bar on stderr, hidden when stderr is not a
terminal unless forced.  Library code and the command line both use :func:`progress`."""

from __future__ import annotations

import sys


def progress(iterable=None, total=None, desc: str = "", disable: bool | None = None):
    """A tqdm progress bar on stderr over ``iterable`` (or ``total`` manual updates).

    ``disable``: None → shown only when stderr is a terminal."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, disable=disable, dynamic_ncols=True)
