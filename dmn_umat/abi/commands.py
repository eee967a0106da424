"""``dmn abi`` subcommands: build the UMAT library (and the files a C/Fortran user needs), print a
deck's material block, run the install's CalculiX on a deck."""

from __future__ import annotations

import argparse

from ..cliutil import CLIError, emit_json, load_model, load_phases


def register(subparsers) -> None:
    p = subparsers.add_parser("abi", help="C ABI / Abaqus UMAT library (libdmn_umat)")
    sub = p.add_subparsers(dest="abi_command", metavar="ABI_COMMAND")

    b = sub.add_parser("build", help="build libdmn_umat.so (+ libDMN.so alias for CalculiX), precompile "
                       "its kernels, and write dmn_umat.h, the Fortran UMAT shim, C/Fortran drivers, "
                       "CMake files and the example deck dmn_example.inp next to it")
    b.add_argument("--out", default=None, help="output directory (default: per-build cache directory)")
    b.add_argument("--json", action="store_true", help="print {'library': path} as JSON")
    b.add_argument("--no-warm", action="store_true",
                   help="skip the self-test that precompiles the kernels into OUT/numba")
    b.set_defaults(func=_cmd_build)

    d = sub.add_parser("deck", help="print the *MATERIAL/*USER MATERIAL/*DEPVAR block for a model")
    d.add_argument("model", help="model file (*.dmn) or the name of a shipped model (dmn models)")
    d.add_argument("--phase", action="append", help="phase law spec, one per model phase, in order")
    d.add_argument("--name", default=None, help="material name (default @ABAQUS_DMN)")
    d.add_argument("--flavor", choices=("calculix", "abaqus"), default="calculix")
    d.add_argument("--json", action="store_true", help="print {'block', 'nstatv', 'nprops', 'props'} as JSON")
    d.add_argument("--props", metavar="FILE", default=None,
                   help="also write the PROPS vector to FILE, one value per line (what the C/Fortran "
                   "drivers read)")
    d.set_defaults(func=_cmd_deck)

    c = sub.add_parser("ccx", help="run the CalculiX the install built (UMAT loader) on JOB.inp with "
                       "libdmn_umat on its library path")
    c.add_argument("-i", dest="job", required=True, metavar="JOB", help="job name: JOB.inp in the current "
                   "folder, results JOB.dat/JOB.frd next to it (as ccx -i JOB)")
    c.add_argument("--lib", default=None, help="folder of libDMN.so (from `dmn abi build --out DIR`; "
                   "default: the per-build cache library, built when missing)")
    c.set_defaults(func=_cmd_ccx)
    p.set_defaults(func=lambda args: _no_sub(p))


def _no_sub(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def _cmd_build(args) -> int:
    import sys
    import warnings

    from .build import build, default_dir

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            lib = build(args.out or default_dir(), warm_cache=not args.no_warm)
        except Exception as exc:  # noqa: BLE001 - compiler/cffi failure: one line for the user
            raise CLIError(f"cannot build the library: {exc}") from None
    for w in caught:  # e.g. an install without the header: said, in one line each
        print(f"dmn abi: warning: {w.message}", file=sys.stderr)
    if args.json:
        emit_json({"library": str(lib)})
    else:
        print(lib)
    return 0


def _cmd_deck(args) -> int:
    from .deck import DEFAULT_NAME, DeckError, material_block, nstatv, props_vector

    phases = load_phases(args.phase)
    _, net = load_model(args.model)
    try:
        block = material_block(net, phases, args.name or DEFAULT_NAME, flavor=args.flavor)
        nsv = nstatv(net, phases)
    except DeckError as exc:
        raise CLIError(str(exc)) from None
    props = props_vector(phases)
    if args.props:
        from ..fileio import atomic_write_text

        atomic_write_text(args.props, "".join(f"{v!r}\n" for v in props.tolist()))
    if args.json:
        emit_json({"block": block, "nstatv": nsv, "nprops": int(props.size), "props": props})
    else:
        print(block, end="")
    return 0


def _cmd_ccx(args) -> int:
    from pathlib import Path

    from .calculix import CalculiXNotFound, ccx_path, run

    try:
        ccx_path()
    except CalculiXNotFound as exc:
        raise CLIError(str(exc)) from None
    if not Path(f"{args.job}.inp").is_file():
        raise CLIError(f"deck {args.job}.inp not found in {Path.cwd()}")
    if args.lib is not None:
        lib_dir = Path(args.lib)
        if not (lib_dir / "libDMN.so").exists():
            raise CLIError(f"no libDMN.so in {lib_dir} (build it with dmn abi build --out {lib_dir})")
    else:
        from .build import ensure_library

        try:
            lib_dir = ensure_library().parent
        except Exception as exc:  # noqa: BLE001 - compiler/cffi failure: one line for the user
            raise CLIError(f"cannot build the library: {exc}") from None
    return run(["-i", args.job], lib_dir)
