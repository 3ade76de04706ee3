"""Run osdsim's real-run commands (run, distill, train) from Python, through the CLI handlers.

Works whether or not the commands are registered in ``osdsim.cli.main`` yet.
"""

from __future__ import annotations

import sys


def run_cli(argv: list[str]) -> dict:
    """Parse ``argv`` like the ``osdsim`` script and return the handler's JSON payload."""
    from osdsim.cli import cmd_distill, cmd_run, cmd_train
    from osdsim.cli.common import Parser

    parser = Parser(prog="osdsim")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for module in (cmd_run, cmd_distill, cmd_train):
        module.register(sub)
    args = parser.parse_args(argv)
    return args.handler(args).payload


if __name__ == "__main__":
    import json

    print(json.dumps(run_cli(sys.argv[1:])))
