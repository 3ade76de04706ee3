"""The ``osdsim`` console script: the subcommands of :data:`COMMANDS`, each with --json.

Exit codes: 0 success, 2 bad input (one sentence on stderr, never a traceback).
"""

from __future__ import annotations

import importlib
import sys

from osdsim.cli.common import Parser, UsageError, emit

# Each name has a module osdsim/cli/cmd_<name>.py with register(subparsers).
COMMANDS = (
    "demo", "speedup", "cost", "simulate", "run", "distill", "train", "profile", "calibrate",
    "validate", "import", "sweep", "plan", "plot",
)


def build_parser() -> Parser:
    parser = Parser(prog="osdsim", description="Predict what speculative decoding and online "
                    "speculative decoding (OSD) will do for an LLM service.")
    from osdsim import __version__

    parser.add_argument("--version", action="version", version=f"osdsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"osdsim.cli.cmd_{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        result = args.handler(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"osdsim {args.command}: interrupted; results written so far are kept\n")
        return 130
    except (UsageError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.strerror or 'cannot open'}: {exc.filename}"
        sys.stderr.write(f"osdsim {args.command}: error: {message.rstrip('.')}.\n")
        return 2
    emit(result, getattr(args, "json", False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
