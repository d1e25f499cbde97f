"""Headless command line: `python main.py SUBCOMMAND ...`.

Every module in this package that defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args, progress, cancel) -> int`` is a sub-command, so each capability adds its own module and
touches no shared file. A module is named after its command (``-`` written ``_``), so the launcher knows
the names without importing any. Modules import their heavy dependencies (torch) inside ``run``.

Exit status: 0 success, 2 bad input (one ``error:`` line on stderr), 130 cancelled (Ctrl+C).
``-v`` before the sub-command logs progress notes to stderr (``-vv``: debug); see engine.logsetup.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from engine.errors import Cancelled, LutLabError
from engine.jobs import CancelToken
from engine.logsetup import configure_cli_logging

EXIT_OK, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 2, 130


def _commands() -> list[ModuleType]:
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
    return sorted((m for m in modules if hasattr(m, "NAME") and hasattr(m, "run")), key=lambda m: m.NAME)


def command_names() -> list[str]:
    """The sub-commands' names, from the module names alone (the launcher tells `lutlab COMMAND` from
    `lutlab PHOTO` with them before the editor starts, so it imports nothing)."""
    return sorted(info.name.replace("_", "-") for info in pkgutil.iter_modules(__path__))


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one `error:` line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lutlab")
    except PackageNotFoundError:  # a checkout nobody installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lutlab", description="LUTLab headless jobs. Without a sub-command: the editor.")
    # `dest` differs from the sub-commands' own -v options, which would otherwise overwrite it
    parser.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="count",
        default=0,
        help="log progress notes to stderr (-vv: debugging detail)",
    )
    parser.add_argument("--version", action="version", version=f"lutlab {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in _commands():
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_module=module)
    return parser


class StderrProgress:
    """Progress printed on one updating stderr line (only when stderr is a terminal or verbose)."""

    def __init__(self) -> None:
        self._last = -1
        self._tty = sys.stderr.isatty()

    def __call__(self, fraction: float, message: str = "") -> None:
        percent = int(round(100 * fraction))
        if percent == self._last:
            return
        self._last = percent
        if self._tty:
            sys.stderr.write(f"\r[{percent:3d}%] {message[:70]:<70}")
            if percent >= 100:
                sys.stderr.write("\n")
            sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_cli_logging(args.verbosity)
    try:
        return int(args._module.run(args, StderrProgress(), CancelToken()) or EXIT_OK)
    except LutLabError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        sys.stderr.write("\ncancelled\n")
        return EXIT_CANCELLED
