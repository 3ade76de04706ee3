"""The ``osdsim`` console script: the subcommands of :data:`COMMANDS`, each with --json.

Exit codes: 0 success, 2 bad input or any other failure (one sentence on stderr, never a
traceback: :func:`sentence` turns every exception into one), 130 interrupted, 128 + N stopped
by signal N (SIGTERM, SIGHUP); outputs are then complete or untouched (``osdsim.safe``).
"""

from __future__ import annotations

import importlib
import os
import sys

from osdsim.cli.common import Parser, emit
from osdsim.safe.lock import locked
from osdsim.safe.procs import Terminated, exit_on_signals, restore_signals
from osdsim.safe.text import one_line

# Each name has a module osdsim/cli/cmd_<name>.py with register(subparsers).
COMMANDS = (
    "demo", "speedup", "cost", "simulate", "run", "distill", "train", "profile", "calibrate",
    "validate", "import", "sweep", "plan", "plot", "cards", "lengths",
)


# What a stopped command leaves (osdsim.safe.atomic): old outputs, or new ones written whole.
STOPPED = "every output is whole or untouched (a run's trace up to its last line: --resume continues it)"


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
    # SIGTERM/SIGHUP unwind like Ctrl-C: temporary files go, locks and workers are released.
    previous = exit_on_signals()
    try:
        return _main(argv)
    finally:
        restore_signals(previous)  # main() called in a process of its own (tests, the demo's API)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        # One writer per output: the paths a command writes (its parser's ``writes``) are locked
        # for the whole command, so a second writer is refused at once, naming the holder's PID.
        with locked(*(getattr(args, name, None) for name in getattr(args, "writes", ()))):
            result = args.handler(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"osdsim {args.command}: interrupted; {STOPPED}\n")
        return 130
    except Terminated as exc:
        sys.stderr.write(f"osdsim {args.command}: stopped by {exc.name}; {STOPPED}\n")
        return 128 + exc.signum
    except Exception as exc:  # the guard: every failure is one sentence and exit code 2
        if os.environ.get("OSDSIM_DEBUG") and not isinstance(exc, ValueError):
            raise
        sys.stderr.write(f"osdsim {args.command}: error: {sentence(exc)}\n")
        return 2
    try:
        emit(result, getattr(args, "json", False))
    except BrokenPipeError:  # the reader went away (osdsim ... | head)
        return 0
    return 0


def sentence(exc: BaseException) -> str:
    """One line for an exception: input errors as they say, known system errors by kind, and
    anything else as an internal error (a bug: ``OSDSIM_DEBUG=1`` shows its traceback)."""
    import pickle

    if isinstance(exc, OSError):
        names = [str(n) for n in (exc.filename, exc.filename2) if n]
        message = f"{exc.strerror or type(exc).__name__}" + (f": {' -> '.join(names)}" if names else "")
    elif isinstance(exc, ValueError):  # UsageError, InputError, CardError, TraceError, ...
        message = str(exc) or type(exc).__name__
    elif isinstance(exc, RecursionError):
        message = "the input is nested too deeply"
    elif isinstance(exc, MemoryError):
        message = "out of memory (is an input far larger than intended?)"
    elif isinstance(exc, OverflowError):
        message = f"a number is out of range ({exc})"
    elif isinstance(exc, pickle.UnpicklingError):
        message = f"refused to load a file that is not plain tensors and data ({exc})"
    elif isinstance(exc, ImportError):
        message = f"a package is missing ({exc}); install osdsim's extras, e.g. pip install 'osdsim[real]'"
    else:
        message = (f"internal error ({type(exc).__name__}: {exc}); please report it "
                   "(OSDSIM_DEBUG=1 shows the traceback)")
    message = one_line(message).rstrip(".")
    return message if message.endswith(("?", "!")) else message + "."


if __name__ == "__main__":
    sys.exit(main())
