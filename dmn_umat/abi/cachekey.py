"""Source identity of the C ABI: numba cache key and build pin (stdlib only: imported before numba).

numba keys a cached function on its *own* source file only, so a cached cfunc keeps the old
behaviour after a change in a helper module (ABI.md pitfall 6).  The library therefore points
``NUMBA_CACHE_DIR`` at ``<base>/<key>`` where the key hashes the sources of every module the
kernels are compiled from, plus the Python and numba versions.  Any edit of those files gives
a fresh directory (a cold compile), never a stale kernel.

A built library is pinned to the source tree it was built from: the build records the package
directory and :func:`source_hash` (every module the embedded start-up runs), and the start-up
refuses, via :func:`check_source`, a different copy or edited sources.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

#: package-relative module files the key starts from; their in-package imports are followed
ROOTS = ("abi/cfuncs.py", "abi/nlgeom.py", "abi/cachekey.py")
#: modules the library's embedded start-up runs (and, transitively, what they import)
RUNTIME_ROOTS = ("abi/runtime.py", "abi/cfuncs.py", "abi/nlgeom.py", "abi/cachekey.py")


if __package__:
    from ..sources import package_root, source_files, sources_digest
else:  # loaded by path by the library's start-up check (abi/build.py): this tree's sources.py
    import importlib.util as _ilu

    _spec = _ilu.spec_from_file_location(
        "_dmn_umat_build_sources", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                               "sources.py"))
    _sources = _ilu.module_from_spec(_spec)
    _spec.loader.exec_module(_sources)
    package_root, source_files, sources_digest = (
        _sources.package_root, _sources.source_files, _sources.sources_digest)


def cache_key(root: Path | None = None) -> str:
    """16 hex digits over the kernel sources (path + content), Python and numba versions."""
    root = (package_root() if root is None else Path(root)).resolve()
    h = hashlib.sha256()
    h.update(sys.version.encode())
    try:
        from importlib.metadata import version

        h.update(version("numba").encode())
    except Exception:  # noqa: BLE001 - metadata missing: the sources still key the cache
        pass
    return sources_digest(h, root, ROOTS)


def source_hash(root: Path | None = None) -> str:
    """16 hex digits over the sources (path + content) of every module the library's
    embedded start-up runs (:data:`RUNTIME_ROOTS`, transitively)."""
    root = (package_root() if root is None else Path(root)).resolve()
    return sources_digest(hashlib.sha256(), root, RUNTIME_ROOTS)


def check_source(built_hash: str, built_version: str) -> str | None:
    """Why the running ``dmn_umat`` is not the source a library was built from (one line), or
    None when it is.  Call from *this file of the build tree* (the library loads it by path):
    the imported package must live here and its sources must still hash to ``built_hash``."""
    built_dir = str(package_root())
    pkg = sys.modules.get("dmn_umat")
    here = os.path.dirname(os.path.realpath(pkg.__file__)) if pkg is not None else "(not imported)"
    version = getattr(pkg, "__version__", "?")
    if here != built_dir:
        return (f"this library was built from {built_dir} (dmn_umat {built_version}) but the embedded "
                f"Python runs dmn_umat from {here} (dmn_umat {version}); use a library built from that "
                f"copy (dmn abi build) or do not import another dmn_umat before loading this one")
    now = source_hash()
    if now != built_hash:
        return (f"the sources in {built_dir} changed since this library was built (source hash "
                f"{built_hash} at build, {now} now): rebuild it (dmn abi build --out DIR)")
    return None


def user_cache(name: str) -> Path:
    """``~/.cache/dmn_umat/<name>`` (``$XDG_CACHE_HOME`` honoured)."""
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "dmn_umat" / name


def user_cache_base() -> Path:
    """``~/.cache/dmn_umat/numba``: the numba cache base when the library's own is unusable."""
    return user_cache("numba")


def cache_base(default: str | Path | None = None) -> Path:
    """``$DMN_UMAT_NUMBA_CACHE``, else ``default`` (the library's: ``numba/`` next to it),
    else :func:`user_cache_base`."""
    env = os.environ.get("DMN_UMAT_NUMBA_CACHE")
    if env:
        return Path(env)
    return Path(default) if default else user_cache_base()


def cache_dir(root: Path | None = None, base: str | Path | None = None) -> Path:
    """The keyed numba cache directory of the C ABI kernels (``base`` as in :func:`cache_base`)."""
    return cache_base(base) / cache_key(root)


def _writable_dir(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
        return os.access(d, os.W_OK | os.X_OK)
    except OSError:
        return False


def activate(root: Path | None = None, base: str | Path | None = None) -> Path:
    """Point numba's cache at :func:`cache_dir` (call before the kernels are compiled).

    A ``base`` given by the library whose directory cannot be written falls back to
    :func:`user_cache_base` (numba would silently not cache at all).
    """
    d = cache_dir(root, base)
    if not _writable_dir(d) and base and not os.environ.get("DMN_UMAT_NUMBA_CACHE"):
        d = user_cache_base() / d.name
    d.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(d)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:
        numba_config.CACHE_DIR = str(d)
    return d
