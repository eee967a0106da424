"""``dmn abi`` subcommands: build the UMAT library, print a deck's material block."""

from __future__ import annotations

import argparse

from ..cliutil import CLIError, emit_json, load_model, load_phases


def register(subparsers) -> None:
    p = subparsers.add_parser("abi", help="C ABI / Abaqus UMAT library (libdmn_umat)")
    sub = p.add_subparsers(dest="abi_command", metavar="ABI_COMMAND")

    b = sub.add_parser("build", help="build libdmn_umat.so (+ libDMN.so alias for CalculiX) and precompile "
                       "its kernels")
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
    d.set_defaults(func=_cmd_deck)
    p.set_defaults(func=lambda args: _no_sub(p))


def _no_sub(p: argparse.ArgumentParser) -> int:
    p.print_help()
    return 2


def _cmd_build(args) -> int:
    from .build import build, default_dir

    try:
        lib = build(args.out or default_dir(), warm_cache=not args.no_warm)
    except Exception as exc:  # noqa: BLE001 - compiler/cffi failure: one line for the user
        raise CLIError(f"cannot build the library: {exc}") from None
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
    if args.json:
        props = props_vector(phases)
        emit_json({"block": block, "nstatv": nsv, "nprops": int(props.size), "props": props})
    else:
        print(block, end="")
    return 0
