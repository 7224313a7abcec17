"""Operations and evidence: recovery objectives, owned runbooks, comms, restore drills, evidence (OPS-01..04, GOV-04).

No tool reads runbooks, so these checks hold the documents to the few facts
an auditor and an on-call engineer need from them: a number for RTO and RPO
per data store, a named owner on every runbook and template, a breach notice
that states its regulatory deadline, and a schedule that really runs the drill.
"""

from __future__ import annotations

import re
from pathlib import Path

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from .infra import terraform_files
from .workflows import Workflow, workflows
from .workflows import _deploy_workflows as deploy_workflows

RTO_RPO = "docs/operations/rto-rpo.md"
RUNBOOKS_DIR = "docs/runbooks"
COMMS_DIR = "docs/comms"
#: An objective is a duration ("5 min", "24 h", "RPO 0") -- "TBD" or "as fast as possible" is not one.
DURATION = re.compile(
    r"(?<![\w.])(0|\d+(\.\d+)?\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?))(?![\w])",
    re.IGNORECASE,
)
#: Terraform resource types that hold data, and words one of the RTO/RPO table's rows must contain for each.
DATA_STORES: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws_db_instance": ("PostgreSQL / RDS", ("postgres", "rds", "database")),
    "aws_rds_cluster": ("the Aurora / RDS cluster", ("aurora", "rds", "postgres", "database")),
    "aws_elasticache_replication_group": ("Redis / ElastiCache", ("redis", "elasticache", "valkey")),
    "aws_dynamodb_table": ("DynamoDB", ("dynamodb",)),
    "aws_efs_file_system": ("EFS", ("efs", "file system")),
}
OBJECT_LOCK_BUCKET = ("the Object Lock bucket", ("s3", "bucket", "invoice", "object lock"))
#: Runbooks every project needs; the payment and tenancy answers add theirs.
REQUIRED_RUNBOOKS = ("incident-response.md", "key-compromise.md", "restore-drill.md", "signing-key-rotation.md")
REQUIRED_COMMS = ("incident-notice.md", "breach-notification.md")
OWNER_LINE = re.compile(r"^\s*(?:\*\*)?Owner(?:\*\*)?\s*:\s*(?P<owner>.+)$", re.IGNORECASE | re.MULTILINE)
PLACEHOLDER_OWNER = re.compile(r"^[\s*_`]*(tbd|todo|tba|n/?a|none|unknown|<[^>]*>|\[[^\]]*\]|-+|\?+)[\s*_`.]*$", re.I)
OWNER_WITHIN_LINES = 15
#: GDPR Art. 33: the supervisory authority within 72 hours of becoming aware.
BREACH_DEADLINE = re.compile(r"\b72\s*(h|hours?)\b", re.IGNORECASE)
RESTORE_DRILL = re.compile(r"restore[-_]drill")
EVIDENCE_FLAG = re.compile(r"--evidence[ =](\S+)")


# ------------------------------------------------------------------ OPS-02


def _table_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """The first Markdown table whose header names RTO and RPO: (header cells, body rows)."""
    lines = [line.strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        cells = [cell.strip() for cell in line.strip("|").split("|")] if line.startswith("|") else []
        headers = [cell.lower() for cell in cells]
        if "rto" in headers and "rpo" in headers:
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip("|").split("|")])
            return headers, rows
    return [], []


def _expected_stores(project: Project) -> list[tuple[str, tuple[str, ...], str]]:
    """(what, words a row must contain, where it was found) for each data store in the Terraform."""
    expected: dict[str, tuple[str, tuple[str, ...], str]] = {}
    for file in terraform_files(project):
        if file.body is None:
            continue
        for block in file.body.blocks:
            if block.type != "resource" or not block.labels:
                continue
            kind = block.labels[0]
            if kind in DATA_STORES:
                what, words = DATA_STORES[kind]
                expected.setdefault(what, (what, words, file.relative))
            elif kind == "aws_s3_bucket" and block.attributes.get("object_lock_enabled") is True:
                what, words = OBJECT_LOCK_BUCKET
                expected.setdefault(f"{what} {block.labels[-1]}", (f"{what} {block.labels[-1]}", words, file.relative))
    return list(expected.values())


@register("ops.recovery_objectives", controls=("OPS-02",))
def recovery_objectives(project: Project) -> Outcome:
    """docs/operations/rto-rpo.md has a table with a numeric RTO and RPO for every data store the
    infrastructure creates (databases, caches, Object Lock buckets)."""
    text = project.read(RTO_RPO)
    if text is None:
        return failed(
            Finding(
                f"{RTO_RPO} is missing",
                "write a table: data store | RPO | RTO | how the target is met (backups, PITR, multi-AZ)",
                RTO_RPO,
            )
        )
    headers, rows = _table_rows(text)
    if not rows:
        return failed(Finding("no table with RTO and RPO columns", "add | Data store | RPO | RTO | ... |", RTO_RPO))
    rto, rpo = headers.index("rto"), headers.index("rpo")
    findings = []
    for row in rows:
        name = row[0] if row else "?"
        for column, label in ((rpo, "RPO"), (rto, "RTO")):
            value = row[column] if column < len(row) else ""
            if not DURATION.search(value):
                findings.append(
                    Finding(
                        f"{name}: {label} is {value!r}, not a duration",
                        f"state the {label} as a number with a unit (e.g. 5 min, 24 h, 0)",
                        RTO_RPO,
                    )
                )
    names = " ".join(row[0].lower() for row in rows if row)
    for what, words, found_in in _expected_stores(project):
        if not any(word in names for word in words):
            findings.append(
                Finding(
                    f"no RTO/RPO row for {what} ({found_in})",
                    "add a row for it: every data store needs recovery objectives and a way to meet them",
                    RTO_RPO,
                )
            )
    if findings:
        return failed(*findings)
    return passed(f"{len(rows)} data store(s) with a numeric RTO and RPO")


# ------------------------------------------------------------------ OPS-03 / OPS-04


def _owner_finding(project: Project, path: Path) -> Finding | None:
    head = "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[:OWNER_WITHIN_LINES])
    match = OWNER_LINE.search(head)
    if match is None or PLACEHOLDER_OWNER.match(match.group("owner")):
        shown = "no `Owner:` line" if match is None else f"owner {match.group('owner').strip()!r} is a placeholder"
        return Finding(
            f"{shown} near the top",
            "name the accountable role or team: `Owner: **<Org> — <role>**`",
            project.relative(path),
        )
    return None


def _documents(project: Project, directory: str) -> list[Path]:
    base = project.root / directory
    return sorted(path for path in project.files if path.parent == base and path.suffix == ".md")


def _required_runbooks(project: Project) -> list[str]:
    required = list(REQUIRED_RUNBOOKS)
    if project.answers.get("payment_provider") not in (None, "none"):
        required.append("webhook-secret-rotation.md")
    if project.answers.get("tenancy") in {"pooled", "schema", "silo"}:
        required.append("tenant-offboarding.md")
    return required


@register("ops.runbooks_owned", controls=("OPS-03",))
def runbooks_owned(project: Project) -> Outcome:
    """The on-call runbooks exist (incident response, key compromise, restore drill, signing-key rotation,
    and webhook-secret rotation / tenant offboarding where they apply), and each names its owner."""
    runbooks = _documents(project, RUNBOOKS_DIR)
    present = {path.name for path in runbooks}
    findings = [
        Finding(f"runbook {name} is missing", "write it: trigger, steps, who decides, how to verify", RUNBOOKS_DIR)
        for name in _required_runbooks(project)
        if name not in present
    ]
    findings += [finding for path in runbooks if (finding := _owner_finding(project, path)) is not None]
    if findings:
        return failed(*findings)
    return passed(f"{len(runbooks)} runbook(s), each with a named owner")


@register("ops.comms_templates", controls=("OPS-04",))
def comms_templates(project: Project) -> Outcome:
    """Customer communication templates exist for an incident and a personal-data breach, each names its owner,
    and the breach template states the 72-hour regulator deadline (GDPR Art. 33)."""
    templates = _documents(project, COMMS_DIR)
    present = {path.name: path for path in templates}
    findings = [
        Finding(f"comms template {name} is missing", "write the notice before you need it", COMMS_DIR)
        for name in REQUIRED_COMMS
        if name not in present
    ]
    findings += [finding for path in templates if (finding := _owner_finding(project, path)) is not None]
    breach = present.get("breach-notification.md")
    if breach is not None and not BREACH_DEADLINE.search(breach.read_text(encoding="utf-8", errors="replace")):
        findings.append(
            Finding(
                "the breach notification does not state the 72-hour deadline",
                "list each regime's deadline (GDPR Art. 33: the authority within 72 hours of awareness)",
                project.relative(breach),
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"{len(templates)} comms template(s), owned; the breach notice states its deadline")


# ------------------------------------------------------------------ OPS-01


@register("ops.restore_drill_scheduled", controls=("OPS-01",))
def restore_drill_scheduled(project: Project) -> Outcome:
    """A scheduled workflow (nightly) runs the restore drill, so restores are practised, not assumed."""
    scheduled = [workflow for workflow in workflows(project) if "schedule" in workflow.triggers]
    for workflow in scheduled:
        for job_id, job in workflow.jobs.items():
            runs = "\n".join(str(step.get("run", "")) for step in workflow.steps(job))
            if RESTORE_DRILL.search(runs):
                return passed(f"{workflow.relative} job {job_id} runs the restore drill on a schedule")
    # Point at the nightly workflow when there is one: that is where the drill belongs.
    nightly = [workflow.relative for workflow in scheduled if "nightly" in workflow.relative]
    where = (nightly or [workflow.relative for workflow in scheduled] or [None])[0]
    return failed(
        Finding(
            "no scheduled workflow runs the restore drill"
            + ("" if scheduled else " (there is no scheduled workflow at all)"),
            "add a job to the nightly workflow that restores a backup into a fresh database and verifies it "
            "(`make restore-drill` / `python -m <package> restore-drill`)",
            where,
        )
    )


# ------------------------------------------------------------------ GOV-04


def _evidence_findings(workflow: Workflow) -> tuple[int, list[Finding]]:
    """(preflight runs that keep their evidence, findings for those that do not)."""
    kept, findings = 0, []
    for job_id, job in workflow.jobs.items():
        steps = workflow.steps(job)
        runs = "\n".join(str(step.get("run", "")) for step in steps)
        if "secure-scaffold preflight" not in runs:
            continue
        evidence = EVIDENCE_FLAG.search(runs)
        uploaded = [
            str((step.get("with") or {}).get("path", ""))
            for step in steps
            if str(step.get("uses", "")).startswith("actions/upload-artifact@")
        ]
        if evidence is None:
            findings.append(
                Finding(
                    f"job {job_id} runs preflight without --evidence",
                    "write the evidence bundle: `secure-scaffold preflight . --evidence preflight-evidence`",
                    workflow.relative,
                    workflow.line_of("secure-scaffold preflight"),
                )
            )
        elif not any(evidence.group(1).rstrip("/") in path for path in uploaded):
            findings.append(
                Finding(
                    f"job {job_id} writes the evidence bundle {evidence.group(1)} but does not keep it",
                    "upload it with actions/upload-artifact (retention of at least a year for deploys)",
                    workflow.relative,
                    workflow.line_of("--evidence"),
                )
            )
        else:
            kept += 1
    return kept, findings


@register("ops.evidence_collected", controls=("GOV-04",), requires=("workflows.present",))
def evidence_collected(project: Project) -> Outcome:
    """Every preflight run in CI writes its evidence bundle (report, tool outputs, hashes) and keeps it as an
    artifact, and the deploy workflow is one of them: evidence is collected on every release, by machines."""
    loaded = workflows(project)
    findings: list[Finding] = []
    kept_in: list[str] = []
    for workflow in loaded:
        kept, problems = _evidence_findings(workflow)
        findings += problems
        if kept:
            kept_in.append(workflow.relative)
    deploys = {workflow.relative for workflow in deploy_workflows(loaded)}
    if not deploys & set(kept_in):
        findings.append(
            Finding(
                "no deploy workflow keeps a preflight evidence bundle",
                "run `secure-scaffold preflight --evidence DIR` in the deploy gate and upload DIR",
                next(iter(sorted(deploys)), None),
            )
        )
    if findings:
        return failed(*findings)
    return passed(f"preflight evidence kept by {', '.join(kept_in)}")
