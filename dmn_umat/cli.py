"""The ``dmn`` console script (docs/design.md §8).

Each stage contributes its subcommands through a ``commands`` module exposing
``register(subparsers)``; handlers receive the parsed namespace and return an exit code.
Command modules must keep heavy imports (torch, dask, matplotlib) inside the handlers so
``dmn --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .cliutil import CLIError

#: top-level modules of the optional dependency groups (pyproject.toml) → the extra to install
EXTRA_OF = {"torch": "train", "h5py": "train", "dask": "data", "distributed": "data", "meshio": "fe2",
            "gmsh": "fe2", "matplotlib": "plot", "tqdm": "train"}

COMMAND_MODULES = (
    "dmn_umat.demo",
    "dmn_umat.rve.cmd_micro",
    "dmn_umat.rve.cmd_data",
    "dmn_umat.rve.cmd_fft",
    "dmn_umat.offline.commands",
    "dmn_umat.online.commands",
    "dmn_umat.abi.commands",
    "dmn_umat.fe.commands",
    "dmn_umat.assess.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmn", description="Deep Material Networks as surrogate constitutive laws."
    )
    parser.add_argument("--version", action="version", version=f"dmn_umat {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def missing_extra(exc: ImportError) -> str | None:
    """One-line advice when ``exc`` is a missing optional dependency, else None."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    if not isinstance(exc, ModuleNotFoundError) or name not in EXTRA_OF:
        return None
    extra = EXTRA_OF[name]
    return (f"this needs {name}, which the base install leaves out: pip install 'dmn_umat[{extra}]' "
            f"(or dmn_umat[all])")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    from .laws import PhaseSpecError
    from .loadpath import PathError

    try:
        return int(args.func(args) or 0)
    except (CLIError, PhaseSpecError, PathError) as exc:
        print(f"dmn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        advice = missing_extra(exc)
        if advice is None:
            raise
        print(f"dmn {args.command}: error: {advice}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dmn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `dmn models | head`: stop quietly like other Unix tools
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
