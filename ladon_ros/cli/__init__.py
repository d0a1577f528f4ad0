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
    """Entry point of the ``ladon-ros`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == '__main__':
    sys.exit(main())
