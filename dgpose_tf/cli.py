"""The ``dgpose`` command line: ``dgpose <subcommand> …``; ``dgpose --version``.

Each subcommand is a function registered with :func:`command`; heavy modules are imported inside
the function so that ``dgpose --help`` and ``dgpose --version`` stay instant.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._version import __version__

_COMMANDS = []


def command(name, help):
    """Register ``func(args)`` as a subcommand; ``func.configure(parser)`` adds its arguments."""
    def wrap(func):
        _COMMANDS.append((name, help, func))
        return func
    return wrap


def _demo_args(p):
    p.add_argument("--out", default="dgpose_demo.png", help="PNG sheet to write")
    p.add_argument("--n", type=int, default=64, help="number of random poses")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64, choices=(64, 128, 256))


@command("demo", "pose-geometry demo: heatmaps, decoding, conversions, alignment, metrics; "
                 "writes a PNG sheet")
def _demo(args):
    from .demo import run_geometry_demo
    return run_geometry_demo(out=args.out, n=args.n, seed=args.seed, size=args.size)


_demo.configure = _demo_args


def _skeletons_args(p):
    p.add_argument("name", nargs="?", help="show one skeleton (default: list them)")


@command("skeletons", "list joint sets, or show one with its flip indices and limbs")
def _skeletons(args):
    from .pose import conversion, get_skeleton, list_skeletons

    if args.name is None:
        for name in list_skeletons():
            s = get_skeleton(name)
            print(f"{name:16s} {s.num_joints:3d} joints  {s.description}")
        return 0
    s = get_skeleton(args.name)
    print(f"{s.name}: {s.description}")
    for i, (j, p) in enumerate(zip(s.joints, s.partners)):
        print(f"  {i:2d} {j:16s} flip -> {s.index(p):2d} ({p})")
    print("  limbs: " + ", ".join(f"{a}-{b}" for a, b in s.limbs))
    for other in list_skeletons():
        c = conversion(s, other)
        notes = [f"{j}: {r}" for j, r in c.approximations.items()]
        if c.missing:
            notes.append("missing " + ", ".join(c.missing))
        print(f"  -> {other:16s} {'; '.join(notes) if notes else 'exact'}")
    return 0


_skeletons.configure = _skeletons_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dgpose", description="dgpose_tf: deep generative models for human-body analysis")
    parser.add_argument("--version", action="version", version=f"dgpose_tf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, func in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        getattr(func, "configure", lambda _: None)(p)
        p.set_defaults(func=func)
    return parser


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        print(f"dgpose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
