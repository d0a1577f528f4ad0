"""The ``ladon-ros`` command line.

Each module in this package defines one subcommand: a module-level ``register(subparsers)``
that adds its parser and sets ``func`` (called with the parsed args, returns an exit code).
Modules are discovered, so adding a subcommand touches no shared file.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(prog='ladon-ros', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith('_'):
            continue  # __main__ would run the CLI on sys.argv when imported
        module = importlib.import_module(f'{__name__}.{info.name}')
        if hasattr(module, 'register'):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ladon-ros`` console script.

    A subcommand that starts ROS nodes says so (``set_defaults(needs_ros=True)``, or a function
    of the parsed args): its environment is set up first, as ``source scripts/env.sh`` would
    (``ladon_ros.workspace``), or the command stops at once with the one line that fixes it.
    """
    args = build_parser().parse_args(argv)
    needs_ros = getattr(args, 'needs_ros', False)
    if needs_ros is True or (callable(needs_ros) and needs_ros(args)):
        from ladon_ros.workspace import RosEnvironmentError, ensure_ros_environment
        try:
            ensure_ros_environment(f'ladon-ros {args.command}')
        except RosEnvironmentError as err:
            print(f'[ERROR] {err}', file=sys.stderr)
            return 2
    return int(args.func(args) or 0)


if __name__ == '__main__':
    sys.exit(main())
