"""Source identity of the package: its in-package import graph and the numba stale-cache guard.

numba keys a cached function on its *own* source file only, so code it compiled in from another
module (a phase law, a tolerance, a status code, a catalogue array) survives edits there and a
cached caller keeps the old behaviour (ABI.md pitfall 6; docs/design.md §4).  Every module with
``@njit(cache=True)`` functions therefore calls :func:`guard_numba_cache` after its definitions:
it hashes the module and every module it imports, transitively, and drops the module's cached
entries when that hash changed.  The C library's keyed cache directory
(:mod:`dmn_umat.abi.cachekey`) uses the same graph.

Standard library only (the library's start-up loads this file by path before numba).
"""

from __future__ import annotations

import ast
import glob
import hashlib
import os
from functools import cache
from pathlib import Path


def package_root() -> Path:
    """Directory of the ``dmn_umat`` package."""
    return Path(__file__).resolve().parent


@cache
def _imports(path: Path, root: Path, mtime_ns: int) -> frozenset[Path]:
    """Files of the in-package modules ``path`` imports (relative or ``dmn_umat.`` imports,
    lazy ones included); ``mtime_ns`` keys the memo."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError):
        return frozenset()
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
    return frozenset(p for p in out if root.resolve() in p.parents)


def source_files(root: Path | None = None, roots: tuple[str, ...] = ()) -> list[Path]:
    """``roots`` (package-relative files) and, transitively, the in-package modules they import."""
    root = (package_root() if root is None else Path(root)).resolve()
    todo = [(root / r).resolve() for r in roots if (root / r).is_file()]
    seen: set[Path] = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            mtime = p.stat().st_mtime_ns
        except OSError:
            continue
        todo.extend(_imports(p, root, mtime) - seen)
    return sorted(seen)


def sources_digest(h, root: Path | None = None, roots: tuple[str, ...] = ()) -> str:
    """16 hex digits: ``h`` updated with the path and content of every :func:`source_files`."""
    root = (package_root() if root is None else Path(root)).resolve()
    for p in source_files(root, roots):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def guard_numba_cache(dispatcher, module_file: str, root: Path | None = None) -> bool:
    """Delete the numba cache entries of ``module_file`` when it or a module it imports changed.

    A stamp file holding the digest of those sources sits next to the cache; on mismatch the
    module's ``*.nbi``/``*.nbc`` are removed before anything compiles.  Call at import time,
    after the module's ``@njit(cache=True)`` definitions (``dispatcher``: any cached dispatcher
    of the module, used to find the cache directory).  ``root``: the package directory (default
    this package).  Returns True if entries were dropped; a read-only install is left alone.
    """
    try:
        root = (package_root() if root is None else Path(root)).resolve()
        rel = str(Path(module_file).resolve().relative_to(root))
        digest = sources_digest(hashlib.sha256(), root, (rel,))
        cache_dir = dispatcher._cache._cache_path
        stem = os.path.splitext(os.path.basename(module_file))[0]
        stamp = os.path.join(cache_dir, f"{stem}.deps.{digest}")
        if os.path.exists(stamp):
            return False
        for f in glob.glob(os.path.join(cache_dir, f"{stem}.*.nb[ic]")) + glob.glob(
            os.path.join(cache_dir, f"{stem}.deps.*")
        ):
            try:
                os.remove(f)
            except OSError:
                pass
        os.makedirs(cache_dir, exist_ok=True)
        with open(stamp, "w") as fh:
            fh.write(rel + "\n")
        return True
    except (OSError, AttributeError, ValueError):  # read-only install, no cache, outside root
        return False
