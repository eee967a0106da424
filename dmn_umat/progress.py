"""Progress bars for long work (one place): a tqdm bar on stderr, hidden when stderr is not a
terminal unless forced.  Library code and the command line both use :func:`progress`.

tqdm is optional (the ``train``/``data`` extras bring it): without it :func:`progress` returns
a :class:`NoBar`, which iterates and accepts the calls a bar gets but shows nothing, so the
runtime (``dmn drive``, the C library) needs no tqdm."""

from __future__ import annotations

import sys


class NoBar:
    """Stand-in for a tqdm bar when tqdm is not installed: iterates ``iterable``; ``update``,
    ``set_postfix``, ``set_description``, ``refresh``, ``close`` do nothing."""

    def __init__(self, iterable=None, total=None, **_kw) -> None:
        self.iterable = iterable
        self.total = total
        self.n = 0

    def __iter__(self):
        return iter(()) if self.iterable is None else iter(self.iterable)

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, *_a, **_kw) -> None:
        pass

    def set_description(self, *_a, **_kw) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable=None, total=None, desc: str = "", disable: bool | None = None):
    """A tqdm progress bar on stderr over ``iterable`` (or ``total`` manual updates); a silent
    :class:`NoBar` when tqdm is not installed.

    ``disable``: None → shown only when stderr is a terminal."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return NoBar(iterable, total=total)
    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, disable=disable, dynamic_ncols=True)
