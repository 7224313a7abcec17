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
from ._generate import check_answer_names, generate_project, read_data_file
from ._template import template_root
from .errors import DataFileError, ProfileError, SecureScaffoldError

#: Multiple-choice questions: `-d compliance=soc2` (or `soc2,gdpr`) means a list, as copier's `[soc2, gdpr]` does.
LIST_QUESTIONS = ("compliance",)


def _parse_data(pairs: Sequence[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise DataFileError(f"--data expects NAME=VALUE, got {pair!r}")
        if name in LIST_QUESTIONS and not value.strip().startswith("["):
            value = [item.strip() for item in value.split(",") if item.strip()]
        data[name] = value
    return data


def _refuse_profile_answer(data: dict[str, Any], *, command: str) -> None:
    if "profile" in data:
        hint = "use --profile FILE" if command == "new" else "move to a new version with --profile FILE"
        raise ProfileError(f"the profile is not an answer to set with -d; {hint}")


def _cmd_new(args: argparse.Namespace) -> int:
    data = read_data_file(args.data_file) if args.data_file else {}
    data.update(_parse_data(args.data))
    _refuse_profile_answer(data, command="new")
    if args.profile:
        from .profiles import load_profile

        profile = load_profile(args.profile)
        if problems := profile.conflicts(data):
            raise ProfileError("; ".join(problems) + "; nothing was written")
        data["profile"] = profile.as_answer()
        print(f"Using the {profile.name!r} profile (version {profile.version}) from {args.profile}", file=sys.stderr)
    print(f"Generating a project in {args.destination} ...", file=sys.stderr)
    destination = generate_project(
        args.destination,
        data=data,
        defaults=args.defaults,
        template=args.template,
        vcs_ref=args.vcs_ref,
        quiet=args.quiet,
        profile_facts=(data.get("profile") or {}).get("facts"),
    )
    print(f"Done: {destination.resolve()}", file=sys.stderr)
    return 0


def _control_statuses(path: Path) -> dict[str, str]:
    from .preflight import run_preflight

    return {result.control_id: result.status.value for result in run_preflight(path).results}


def _cmd_update(args: argparse.Namespace) -> int:
    from ._update import check_for_update, require_clean_tree, update_project

    if args.check:
        check = check_for_update(args.path)
        if check.update_available:
            print(f"update available: {check.current_version} -> {check.latest_version}")
            return 1
        print(f"up to date ({check.current_version})")
        return 0
    require_clean_tree(args.path)
    data = _parse_data(args.data)
    _refuse_profile_answer(data, command="update")
    check_answer_names(data, template_root())
    new_profile = None
    if args.profile:
        from ._update import profile_for_update
        from .profiles import load_profile

        new_profile = profile_for_update(
            args.path, load_profile(args.profile), data, repairing=args.restore_locks, quiet=args.quiet
        )
    before = _control_statuses(args.path)
    if args.restore_locks:
        from ._update import restore_locks

        if data:
            raise ProfileError("--restore-locks changes only the locked answers; run it without -d")
        repair = restore_locks(args.path, profile=new_profile, quiet=args.quiet)
        for name, (was, now) in sorted(repair.restored.items()):
            print(f"restored {name}: {was!r} -> {now!r} (locked by the {repair.profile!r} profile)", file=sys.stderr)
        changed = repair.changed
    else:
        if new_profile is not None:
            data["profile"] = new_profile
        changed = update_project(args.path, vcs_ref=args.vcs_ref, data=data, quiet=args.quiet)
    print(f"updated cleanly; {len(changed)} file(s) changed (review with `git diff`, then commit)", file=sys.stderr)
    after = _control_statuses(args.path)
    moves = [
        f"  {control_id}: {before.get(control_id, 'not applicable')} -> {status}"
        for control_id, status in sorted(after.items())
        if before.get(control_id) != status
    ]
    print("controls that changed status:\n" + "\n".join(moves) if moves else "no control changed status")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    import yaml

    from .profiles import init_profile, load_profile

    if args.action == "init":
        init_profile(Path(args.location), args.name)
        print(f"wrote {args.location}; edit it, then `secure-scaffold profile validate {args.location}`")
        return 0
    profile = load_profile(args.location)
    if args.action == "validate":
        print(f"{args.location}: valid profile {profile.name!r} (version {profile.version})")
    else:
        print(yaml.safe_dump({"profile": profile.as_answer()}, sort_keys=False), end="")
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


class _ReasonedAction(argparse.Action):
    """`--skip ID --reason TEXT` and `--allow-unknown ID --reason TEXT`, repeatable.

    Each --reason belongs to the --skip or --allow-unknown right before it; both
    are recorded in the report, so an exception to the gate always says why.
    """

    def __call__(self, parser, namespace, value, option_string=None):
        exceptions: list[list[str]] = getattr(namespace, "exceptions", None) or []
        if option_string in ("--skip", "--allow-unknown"):
            exceptions.append([option_string, value, ""])
        elif not exceptions or exceptions[-1][2]:
            parser.error("--reason must follow a --skip ID or an --allow-unknown ID")
        else:
            exceptions[-1][2] = value
        namespace.exceptions = exceptions


def _cmd_preflight(args: argparse.Namespace) -> int:
    from .preflight import run_preflight
    from .report import RENDERERS, write_evidence_bundle

    skips = {control: reason for flag, control, reason in args.exceptions if flag == "--skip"}
    accepted = {control: reason for flag, control, reason in args.exceptions if flag == "--allow-unknown"}
    interactive = sys.stderr.isatty() and args.output is None and args.format == "table"

    def progress(check: str) -> None:
        if interactive:
            print(f"\r\033[K  checking {check} ...", end="", file=sys.stderr, flush=True)

    profile = None
    if args.profile:
        from .profiles import load_profile

        profile = load_profile(args.profile)
    report = run_preflight(
        args.path, only=args.only, skip=skips, allow_unknown=accepted, progress=progress, profile=profile
    )
    if interactive:
        print("\r\033[K", end="", file=sys.stderr)
    rendered = RENDERERS[args.format](report)
    if args.output:
        args.output.write_text(rendered, encoding="utf-8")
        print(f"wrote {args.format} report to {args.output}", file=sys.stderr)
    else:
        print(rendered, end="")
    if args.evidence:
        write_evidence_bundle(report, args.evidence)
        print(f"wrote evidence bundle to {args.evidence}", file=sys.stderr)
    if args.format != "table" or args.output:
        from .report import verdict_line

        print(f"preflight: {verdict_line(report)}", file=sys.stderr)
    return report.verdict.exit_code


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
    new.add_argument(
        "--template",
        help="template git URL or path (default: this package's own release, recorded as its published URL)",
    )
    new.add_argument("--vcs-ref", help="git ref of the template to use (default: this package's release tag)")
    new.add_argument("--profile", metavar="PATH_OR_URL", help="org profile: defaults, locked answers, allowed choices")
    new.add_argument("-q", "--quiet", action="store_true", help="do not list the files written")
    new.set_defaults(run=_cmd_new)

    update = commands.add_parser(
        "update",
        help="update a generated project to the latest template; exit 1 on any conflict",
        description="copier update, refusing a dirty tree and failing (naming the files) on conflicts.",
    )
    update.add_argument("path", nargs="?", type=Path, default=Path.cwd(), help="project directory (default: .)")
    update.add_argument(
        "--check", action="store_true", help="only report whether an update is available (exit 1 if so)"
    )
    update.add_argument("--vcs-ref", help="template version to update to (default: the latest tag)")
    update.add_argument("-d", "--data", action="append", default=[], metavar="NAME=VALUE", help="change an answer")
    update.add_argument(
        "--profile",
        metavar="PATH_OR_URL",
        help="move to a newer version of the recorded org profile (validated; the answers must keep its locks)",
    )
    update.add_argument(
        "--restore-locks",
        action="store_true",
        help="put back every answer the org profile locks (and the profile itself), re-rendering what they decide",
    )
    update.add_argument("-q", "--quiet", action="store_true")
    update.set_defaults(run=_cmd_update)

    profile = commands.add_parser("profile", help="create, validate or show an org profile")
    profile.add_argument("action", choices=("init", "validate", "show"))
    profile.add_argument("location", type=str, help="profile file (or https URL for validate/show)")
    profile.add_argument("--name", default="my-org", help="profile name for init (a lowercase slug)")
    profile.set_defaults(run=_cmd_profile)

    preflight = commands.add_parser(
        "preflight",
        help="prove the project's security controls; exit 1 when a blocking control fails, 3 when one is unchecked",
        description="Run every check of the controls catalog that applies to the project.",
    )
    preflight.add_argument("path", nargs="?", type=Path, default=Path.cwd(), help="project directory (default: .)")
    preflight.add_argument("--format", choices=("table", "json", "markdown", "sarif", "junit"), default="table")
    preflight.add_argument("--output", type=Path, help="write the report to this file instead of stdout")
    preflight.add_argument("--evidence", type=Path, metavar="DIR", help="also write an evidence bundle for auditors")
    preflight.add_argument("--profile", metavar="PATH_OR_URL", help="the organisation's profile to hold locks against")
    preflight.add_argument("--only", action="append", default=[], metavar="ID", help="check only these control ids")
    preflight.add_argument("--skip", action=_ReasonedAction, metavar="ID", help="skip a control (needs --reason)")
    preflight.add_argument(
        "--allow-unknown",
        action=_ReasonedAction,
        metavar="ID",
        help="accept a control that cannot be checked here (needs --reason); otherwise the run is INCOMPLETE",
    )
    preflight.add_argument(
        "--reason", action=_ReasonedAction, metavar="TEXT", help="why the preceding --skip/--allow-unknown is justified"
    )
    preflight.set_defaults(run=_cmd_preflight, exceptions=[])

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
    except BrokenPipeError:  # `secure-scaffold controls | head`: the reader left, which is fine
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
