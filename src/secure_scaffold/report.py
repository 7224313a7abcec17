"""Render a preflight `Report`: terminal table, JSON, Markdown, SARIF 2.1.0, JUnit XML, evidence bundle.

Each format carries the same facts: every applicable control with its
status, owner, compliance mappings, the checks that decided it and their
findings; skipped controls with their recorded reasons; the verdict, and for
a restricted run (`--only`) the selection and the controls it left unchecked,
so a PARTIAL run is never read as a PASS.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from . import __version__
from ._sarif import render_sarif
from .preflight import ControlResult, Report, Status

FORMATS = ("table", "json", "markdown", "sarif", "junit")
OWNERS_FILES = ("CONTROL_OWNERS", ".github/CONTROL_OWNERS", "docs/CONTROL_OWNERS")


def load_owners(project_root: Path) -> list[tuple[str, str]]:
    """(control-id glob, owner) pairs from a CODEOWNERS-style file; the last match wins, as in CODEOWNERS."""
    for name in OWNERS_FILES:
        path = project_root / name
        if path.is_file():
            pairs = []
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    pattern, _, owner = line.partition(" ")
                    pairs.append((pattern, owner.strip()))
            return pairs
    return []


def owner_of(result: ControlResult, owners: list[tuple[str, str]]) -> str:
    matched = [owner for pattern, owner in owners if fnmatch.fnmatchcase(result.control_id, pattern)]
    return matched[-1] if matched else result.owner


def _compliance(result: ControlResult, regimes: object) -> dict[str, list[str]]:
    wanted = set(regimes) if isinstance(regimes, list) else None
    return {regime: list(refs) for regime, refs in result.compliance.items() if wanted is None or regime in wanted}


def as_dict(report: Report) -> dict[str, Any]:
    owners = load_owners(Path(report.project))
    regimes = report.answers.get("compliance")
    return {
        "tool": {"name": "secure-scaffold", "version": __version__},
        "project": report.project,
        "generated": report.generated,
        "verdict": report.verdict.value,
        "ok": report.ok,
        "summary": {status.value: report.count(status) for status in Status},
        "blocking_failures": [result.control_id for result in report.blocking_failures],
        "unchecked": [result.control_id for result in report.unchecked],
        "accepted_unknown": {
            result.control_id: result.accepted_reason for result in report.results if result.accepted_reason
        },
        "not_applicable": list(report.not_applicable),
        "selected": list(report.selected),
        "not_selected": list(report.not_selected),
        "answers_inconsistent_with_tree": list(report.contradictions),
        "tools": {name: dict(tool) for name, tool in report.tools.items()},
        "controls": [
            {
                "id": result.control_id,
                "title": result.title,
                "severity": result.severity,
                "status": result.status.value,
                "owner": owner_of(result, owners),
                "compliance": _compliance(result, regimes),
                "skip_reason": result.skip_reason,
                "accepted_reason": result.accepted_reason,
                "checks": [
                    {
                        "name": check.check,
                        "status": check.outcome.status.value,
                        "summary": check.outcome.summary,
                        "findings": [
                            {"message": f.message, "hint": f.hint, "path": f.path, "line": f.line}
                            for f in check.outcome.findings
                        ],
                    }
                    for check in result.checks
                ],
            }
            for result in report.results
        ],
    }


def render_json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2) + "\n"


def render_table(report: Report) -> str:
    data = as_dict(report)
    rows = [("CONTROL", "STATUS", "SEVERITY", "OWNER", "TITLE")]
    for control in data["controls"]:
        rows.append((control["id"], control["status"].upper(), control["severity"], control["owner"], control["title"]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)) for row in rows]
    for control in data["controls"]:
        if control["status"] in {"failed", "unknown"}:
            for check in control["checks"]:
                for finding in check["findings"]:
                    where = (
                        f" [{finding['path']}{':' + str(finding['line']) if finding['line'] else ''}]"
                        if finding["path"]
                        else ""
                    )
                    lines.append(f"  {control['id']} {finding['message']}{where}\n      hint: {finding['hint']}")
        if control["status"] == "skipped" and control["skip_reason"]:
            lines.append(f"  {control['id']} skipped: {control['skip_reason']}")
        if control["accepted_reason"]:
            lines.append(f"  {control['id']} left unchecked by --allow-unknown: {control['accepted_reason']}")
    summary = data["summary"]
    lines.append(
        f"\n{summary['passed']} passed, {summary['failed']} failed, {summary['unknown']} unknown, "
        f"{summary['skipped']} skipped; {len(data['not_applicable'])} not applicable"
        f"{f', {len(report.not_selected)} not selected' if report.not_selected else ''}. {verdict_line(report)}"
    )
    return "\n".join(lines) + "\n"


def selection_line(report: Report) -> str:
    """What a restricted run left out, in words; empty for a run of every applicable control."""
    if not report.restricted:
        return ""
    checked = ", ".join(result.control_id for result in report.results) or "none"
    return (
        f"restricted run (--only): checked {len(report.results)} control(s) ({checked}); "
        f"{len(report.not_selected)} applicable control(s) not selected and not checked"
    )


def verdict_line(report: Report) -> str:
    """The run's verdict with what makes it so: failed or unchecked blocking controls, by id, and any restriction."""
    restriction = f"; {selection_line(report)}" if report.restricted else ""
    if report.blocking_failures:
        failed_ids = ", ".join(result.control_id for result in report.blocking_failures)
        return f"FAIL ({len(report.blocking_failures)} blocking control(s) failed: {failed_ids}{restriction})"
    if report.unchecked:
        unchecked_ids = ", ".join(result.control_id for result in report.unchecked)
        return (
            f"INCOMPLETE ({len(report.unchecked)} blocking control(s) could not be checked: {unchecked_ids}; "
            f"make them checkable as each hint says, or accept them with --allow-unknown ID --reason TEXT{restriction})"
        )
    if report.restricted:
        return f"PARTIAL ({selection_line(report)}; not a pass: run without --only for a verdict)"
    return "PASS"


def render_markdown(report: Report) -> str:
    data = as_dict(report)
    lines = [
        f"# Preflight report: {report.verdict.value}",
        "",
        verdict_line(report),
        "",
        f"Project `{data['project']}` ({'generated by secure-scaffold' if report.generated else 'not generated'}), "
        f"secure-scaffold {__version__}.",
        "",
        *(
            [f"Not selected (not checked by this run): {', '.join(report.not_selected)}.", ""]
            if report.restricted
            else []
        ),
        *(
            [f"Answers file inconsistent with the tree: {'; '.join(report.contradictions)}.", ""]
            if report.contradictions
            else []
        ),
        *(
            [
                "Tools run: " + "; ".join(f"{n} `{t['path']}` ({t['version']})" for n, t in report.tools.items()) + ".",
                "",
            ]
            if report.tools
            else []
        ),
        "| control | status | severity | owner | compliance | title |",
        "|---|---|---|---|---|---|",
    ]
    for control in data["controls"]:
        compliance = "; ".join(f"{k}: {', '.join(v)}" for k, v in control["compliance"].items())
        lines.append(
            f"| {control['id']} | {control['status']} | {control['severity']} | {control['owner']} | {compliance} "
            f"| {control['title']} |"
        )
    lines += ["", "## Findings", ""]
    for control in data["controls"]:
        for check in control["checks"]:
            for finding in check["findings"]:
                where = f" (`{finding['path']}`)" if finding["path"] else ""
                lines.append(f"- **{control['id']}** `{check['name']}`: {finding['message']}{where}. {finding['hint']}")
        if control["skip_reason"]:
            lines.append(f"- **{control['id']}** skipped: {control['skip_reason']}")
        if control["accepted_reason"]:
            lines.append(f"- **{control['id']}** left unchecked by `--allow-unknown`: {control['accepted_reason']}")
    return "\n".join(lines) + "\n"


def render_junit(report: Report) -> str:
    data = as_dict(report)
    suite = ET.Element(
        "testsuite",
        name="secure-scaffold preflight",
        tests=str(len(data["controls"])),
        failures=str(data["summary"]["failed"]),
        errors=str(data["summary"]["unknown"]),
        skipped=str(data["summary"]["skipped"]),
    )
    properties = ET.SubElement(suite, "properties")
    recorded = {
        "verdict": report.verdict.value,
        "selected": ",".join(report.selected),
        "not_selected": ",".join(report.not_selected),
        "answers_inconsistent_with_tree": "; ".join(report.contradictions),
    }
    for name, value in recorded.items():
        ET.SubElement(properties, "property", name=name, value=value)
    for control in data["controls"]:
        case = ET.SubElement(
            suite, "testcase", classname=control["id"].split("-")[0], name=f"{control['id']} {control['title']}"
        )
        text = "\n".join(
            f"{f['message']} {f['path'] or ''} {f['hint']}" for c in control["checks"] for f in c["findings"]
        )
        if control["status"] == "failed":
            ET.SubElement(case, "failure", message=f"{control['severity']} control failed").text = text
        elif control["status"] == "unknown":
            ET.SubElement(case, "error", message="could not decide").text = text
        elif control["status"] == "skipped":
            ET.SubElement(case, "skipped", message=control["skip_reason"] or "skipped")
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True) + "\n"


RENDERERS = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "sarif": render_sarif,
    "junit": render_junit,
}


def write_evidence_bundle(report: Report, directory: Path) -> Path:
    """The report in every format plus each tool's raw output, with a SHA-256 manifest for auditors."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {
        f"report.{ext}": RENDERERS[fmt](report)
        for fmt, ext in (("json", "json"), ("markdown", "md"), ("sarif", "sarif"), ("junit", "xml"))
    }
    files["run.json"] = json.dumps(_run_record(report), indent=2) + "\n"
    for result in report.results:
        for check in result.checks:
            for name, text in check.outcome.evidence.items():
                files[f"tools/{check.check}.{name}.txt"] = text
    manifest = []
    for relative, text in sorted(files.items()):
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        manifest.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {relative}")
    (directory / "MANIFEST.sha256").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    return directory


def _run_record(report: Report) -> dict[str, Any]:
    """What kind of run the bundle is evidence of: its verdict, its selection, its exceptions and tools."""
    return {
        "verdict": report.verdict.value,
        "verdict_line": verdict_line(report),
        "restricted": report.restricted,
        "selected": list(report.selected),
        "not_selected": list(report.not_selected),
        "skipped": {result.control_id: result.skip_reason for result in report.results if result.skip_reason},
        "accepted_unknown": {
            result.control_id: result.accepted_reason for result in report.results if result.accepted_reason
        },
        "answers_inconsistent_with_tree": list(report.contradictions),
        "tools": {name: dict(tool) for name, tool in report.tools.items()},
    }


def summary_counts(report: Report) -> Mapping[str, int]:
    return {status.value: report.count(status) for status in Status}
