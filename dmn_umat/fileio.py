"""Atomic file writes, JSON conversion and safe opening of inputs — the one place for each.

Every write that matters goes to a temporary file in the target's folder, is flushed to disk,
gets the mode a plain ``open`` would give (0o666 minus the umask), and replaces the target
with ``os.replace``: a reader sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def file_mode() -> int:
    """Permission bits a newly created file gets under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def _replacing(path: str | Path, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name next to ``path``; on success fsync it, give it the
    default mode and move it onto ``path``; on failure remove it."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_save(path: str | Path, save: Callable[[str], None], suffix: str = ".tmp") -> Path:
    """Call ``save(tmp_name)`` (any library that writes by file name), then move into place.

    ``suffix`` matters for writers that infer the format from the name (e.g. ``.png``).
    """
    with _replacing(path, suffix) as tmp:
        save(tmp)
    return Path(path)


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_open(p, "w") as fh: ...`` — the file appears only if the block succeeds."""
    with _replacing(path) as tmp, open(tmp, mode) as fh:
        yield fh


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(fh)`` on a binary handle (e.g. ``np.save``), then move into place."""
    with atomic_open(path, "wb") as fh:
        write(fh)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def json_default(o: Any) -> Any:
    """``json.dump(default=...)`` hook: numpy arrays/scalars and paths."""
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o)}")


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 1, sort_keys: bool = False) -> Path:
    """Write ``obj`` as JSON (numpy-aware) atomically, with a trailing newline."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, default=json_default)
    return atomic_write_text(path, text + "\n")


def open_regular(path: str | Path, what: str, error: type[Exception] = OSError) -> int:
    """Open ``path`` read-only without blocking → file descriptor; refuse anything but a regular
    file (directory, device such as ``/dev/zero``, FIFO, socket) without reading from it.

    Failures raise ``error`` with one line naming ``what`` ("model file", "path file", ...).
    """
    name = repr(str(path))
    try:
        # O_NONBLOCK: a FIFO without a writer must not hang the open (no effect on regular files)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{what} {name} not found") from None
    except OSError as exc:
        raise error(f"cannot read {what} {name}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise error(f"{what} {name} is a directory, not a file")
        raise error(f"{what} {name} is not a regular file (device, FIFO or socket)")
    return fd


def read_text_file(path: str | Path, what: str, error: type[Exception] = OSError) -> str:
    """UTF-8 text of the regular file ``path`` (the checks of :func:`open_regular`); a file that
    is not UTF-8 text raises ``error`` with one line naming the byte and its offset."""
    fd = open_regular(path, what, error)
    try:
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise error(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} {str(path)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
