"""`secure-scaffold`: a thin command line over the package's verbs.

Each subcommand maps flags to one function call; every error the package
raises on purpose is a `SecureScaffoldError` and becomes one red line and an
exit code here, in one place.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._generate import generate_project, read_data_file
from .errors import DataFileError, SecureScaffoldError


def _parse_data(pairs: Sequence[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise DataFileError(f"--data expects NAME=VALUE, got {pair!r}")
        data[name] = value
    return data


def _cmd_new(args: argparse.Namespace) -> int:
    data = read_data_file(args.data_file) if args.data_file else {}
    data.update(_parse_data(args.data))
    print(f"Generating a project in {args.destination} ...", file=sys.stderr)
    destination = generate_project(
        args.destination,
        data=data,
        defaults=args.defaults,
        template=args.template,
        vcs_ref=args.vcs_ref,
        quiet=args.quiet,
    )
    print(f"Done: {destination.resolve()}", file=sys.stderr)
    return 0


def _cmd_controls(args: argparse.Namespace) -> int:
    import json

    from .controls import catalog_as_json, load_catalog, render_markdown, render_text_table

    catalog = load_catalog()
    if args.format == "json":
        print(json.dumps(catalog_as_json(catalog), indent=2))
    elif args.format == "markdown":
        print(render_markdown(catalog), end="")
    else:
        print(render_text_table(catalog))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="secure-scaffold",
        description="Generate web applications that are secure on their first commit.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new = commands.add_parser("new", help="generate a new project", description="Generate a new project.")
    new.add_argument("destination", type=Path, help="directory to create (must not exist or be empty)")
    new.add_argument("-d", "--data", action="append", default=[], metavar="NAME=VALUE", help="answer a question")
    new.add_argument("--data-file", type=Path, help="YAML file of answers (as copier --data-file)")
    new.add_argument("--defaults", action="store_true", help="use the default answer for every question not given")
    new.add_argument("--template", help="template path or git URL (default: the one shipped with this package)")
    new.add_argument("--vcs-ref", help="git ref of the template to use (default: its latest release tag)")
    new.add_argument("-q", "--quiet", action="store_true", help="do not list the files written")
    new.set_defaults(run=_cmd_new)

    controls = commands.add_parser("controls", help="list the security controls of the catalog")
    controls.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    controls.set_defaults(run=_cmd_controls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SecureScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing more was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
