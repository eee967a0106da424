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
ROOTS = ("abi/cfuncs.py", "abi/cachekey.py")
#: modules the library's embedded start-up runs (and, transitively, what they import)
RUNTIME_ROOTS = ("abi/runtime.py", "abi/cfuncs.py", "abi/cachekey.py")


def package_root() -> Path:
    """Directory of the ``dmn_umat`` package."""
    return Path(__file__).resolve().parent.parent


def _imports(path: Path, root: Path) -> set[Path]:
    """Files of the in-package modules ``path`` imports (relative or ``dmn_umat.`` imports)."""
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError):
        return set()
    pkg = path.parent
    out: set[Path] = set()

    def add(base: Path, parts: list[str]) -> None:
        target = base.joinpath(*parts)
        for cand in (target.with_suffix(".py"), target / "__init__.py"):
            if cand.is_file():
                out.add(cand.resolve())

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg
                for _ in range(node.level - 1):
                    base = base.parent
                mod = node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == root.name:
                base, mod = root, node.module.split(".")[1:]
            else:
                continue
            add(base, mod)
            for alias in node.names:
                add(base, mod + [alias.name])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == root.name:
                    add(root, parts[1:])
    return {p for p in out if root.resolve() in p.parents}


def source_files(root: Path | None = None, roots: tuple[str, ...] = ROOTS) -> list[Path]:
    """The ABI kernels' source files: ``roots`` and, transitively, what they import."""
    root = (package_root() if root is None else Path(root)).resolve()
    todo = [(root / r).resolve() for r in roots if (root / r).is_file()]
    seen: set[Path] = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(_imports(p, root) - seen)
    return sorted(seen)


def _sources_digest(h, root: Path, roots: tuple[str, ...]) -> str:
    for p in source_files(root, roots):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


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
    return _sources_digest(h, root, ROOTS)


def source_hash(root: Path | None = None) -> str:
    """16 hex digits over the sources (path + content) of every module the library's
    embedded start-up runs (:data:`RUNTIME_ROOTS`, transitively)."""
    root = (package_root() if root is None else Path(root)).resolve()
    return _sources_digest(hashlib.sha256(), root, RUNTIME_ROOTS)


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
