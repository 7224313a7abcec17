"""Monitoring controls: the SIEM forwarder is deployed and the alert rules exist and run (MON-02..04).

Alert rules are registered with `@alert_rule("ID", ...)` in security/alerts.py
and evaluated inside `AuditLog.append`, in the transaction of the change, so
an unalerted permission change cannot be committed.
"""

from __future__ import annotations

import re

from .._model import Finding, Outcome, failed, passed, unknown
from .._project import Project
from .._registry import register
from ._source import location, missing, source

REQUIRES = ("layout.application_package",)
RUNTIME = "infra/terraform/modules/runtime/main.tf"
RUNTIME_MODULE = "infra/terraform/modules/runtime"
STACK = "infra/terraform/modules/stack/main.tf"
RULE = re.compile(r'@alert_rule\(\s*"([A-Z]+\d{3})"')
#: (resource name, body) of each resource of a type; a top-level block ends at the first "}" in column 0.
METRIC_FILTER = re.compile(r'resource\s+"aws_cloudwatch_log_metric_filter"\s+"([^"]+)"\s*\{(.*?)\n\}', re.S)
ALARM = re.compile(r'resource\s+"aws_cloudwatch_metric_alarm"\s+"([^"]+)"\s*\{(.*?)\n\}', re.S)
METRIC_NAME = re.compile(r"^\s*metric_name\s*=\s*(.+)$", re.M)
#: Rule id -> what it alerts on; the first group is always required, the second with billing.
PERMISSION_RULES = {"AUTHZ001": "permission changes", "AUTHZ002": "role escalations"}
PAYOUT_RULES = {"PAY001": "payout edits", "PAY002": "credits and refunds"}


def _rules(project: Project) -> tuple[set[str], list[Finding]]:
    alerts = source(project, "security/alerts.py")
    if alerts is None:
        return set(), [
            Finding("security/alerts.py is missing", "restore the alert rules", location(project, "security"))
        ]
    findings = []
    audit = source(project, "security/audit.py") or ""
    if "evaluate_alerts(" not in audit:
        findings.append(
            Finding(
                "the audit log never evaluates the alert rules",
                "call evaluate_alerts in AuditLog.append, in the change's transaction",
                path=location(project, "security/audit.py"),
            )
        )
    return set(RULE.findall(alerts)), findings


def _missing_rules(project: Project, required: dict[str, str]) -> Outcome:
    found, findings = _rules(project)
    findings += [
        Finding(
            f"no alert rule {rule} ({what})",
            f'register it with @alert_rule("{rule}", ...) in security/alerts.py',
            path=location(project, "security/alerts.py"),
        )
        for rule, what in required.items()
        if rule not in found
    ]
    if findings:
        return failed(*findings)
    return passed(f"alert rules {', '.join(sorted(required))} run on every audited change")


#: AUTHZ003 with its per-actor window: `@alert_rule("AUTHZ003", ..., per_actor_window=...)`.
AGGREGATED_REFUSALS = re.compile(r'@alert_rule\(\s*"AUTHZ003"[^)]*\bper_actor_window\s*=')
#: The audit log built with an alert counter: `AuditLog(..., counter=...)`.
COUNTED_AUDIT_LOG = re.compile(r"\bAuditLog\([^)]*\bcounter\s*=")


def _refusals_aggregated(project: Project) -> list[Finding]:
    """AUTHZ003 (any member can trigger it at will) pages once per actor and window, counted across replicas."""
    alerts = source(project, "security/alerts.py") or ""
    if '"AUTHZ003"' not in alerts:
        return []
    if not AGGREGATED_REFUSALS.search(alerts):
        return [
            Finding(
                "AUTHZ003 is not aggregated per actor: any member can flood the pager with refused admin actions",
                'register it with @alert_rule("AUTHZ003", ..., per_actor_window=...)',
                path=location(project, "security/alerts.py"),
            )
        ]
    wiring = source(project, "web/authz.py") or ""
    if not COUNTED_AUDIT_LOG.search(wiring):
        return [
            Finding(
                "the audit log counts no alert windows: AUTHZ003 pages on every refused request",
                "build it as AuditLog(matrix, counter=RedisAlertCounter(...)) so replicas count together",
                path=location(project, "web/authz.py"),
            )
        ]
    return []


@register("monitoring.permission_alerts", controls=("MON-03",), requires=REQUIRES)
def permission_alerts(project: Project) -> Outcome:
    """Permission changes and role escalations raise alerts; refused admin actions cannot flood the pager."""
    outcome = _missing_rules(project, PERMISSION_RULES)
    aggregated = _refusals_aggregated(project)
    if not aggregated:
        return outcome
    return failed(*outcome.findings, *aggregated)


@register("monitoring.payout_alerts", controls=("MON-04",), requires=REQUIRES)
def payout_alerts(project: Project) -> Outcome:
    """Payout edits, credits and refunds raise alerts."""
    return _missing_rules(project, PAYOUT_RULES)


@register("monitoring.siem_forwarding", controls=("MON-02",), requires=REQUIRES)
def siem_forwarding(project: Project) -> Outcome:
    """The audit outbox has a forwarder, and the deployment runs it with APP_SIEM_URL set."""
    siem = source(project, "security/siem.py")
    if siem is None or "def forward_once" not in siem:
        return missing(project, "security/siem.py", "stream the audit outbox to the SIEM (audit-forward)")
    runtime, stack = project.read(RUNTIME), project.read(STACK)
    if runtime is None or stack is None:
        return unknown(
            "no Terraform runtime/stack modules: cannot tell whether audit-forward is deployed",
            "run `python -m <package> audit-forward` next to the app, with APP_SIEM_URL set",
        )
    findings = []
    if not re.search(r'"audit-forward"\s*\]', runtime):
        findings.append(
            Finding(
                "the deployed task runs no audit-forward process: audit events never leave the outbox",
                'add a container with command ["python", "-m", "<package>", "audit-forward"]',
                path=RUNTIME,
            )
        )
    if not re.search(r"APP_SIEM_URL\s*=", stack):
        findings.append(
            Finding("the deployment does not set APP_SIEM_URL", "pass the SIEM intake as APP_SIEM_URL", path=STACK)
        )
    findings += _backlog_alarm_findings(project)
    if findings:
        return failed(*findings)
    return passed("audit-forward runs in every task, streams to APP_SIEM_URL, and a stalled backlog alarms")


def log_event_alarms(project: Project, event: str) -> list[str] | None:
    """The runtime module's alarms on a metric its log group takes from `event` log lines.

    None when no metric filter takes one at all; otherwise the alarms' bodies (maybe none).
    The app writes JSON log lines (`{"event": ...}`); an event that must page someone
    becomes a metric (aws_cloudwatch_log_metric_filter) and an alarm that references it.
    """
    module = project.root / RUNTIME_MODULE
    terraform = "\n".join(path.read_text(encoding="utf-8") for path in sorted(module.glob("*.tf")))
    filters = [name for name, body in METRIC_FILTER.findall(terraform) if f'\\"{event}\\"' in body]
    if not filters:
        return None
    return [body for _, body in ALARM.findall(terraform) if _watches(body, filters)]


def _backlog_alarm_findings(project: Project) -> list[Finding]:
    """The forwarder is not essential to serving, so only an alarm tells that audit events stopped flowing.

    It must watch the `siem_backlog` metric and treat missing data as breaching (a dead
    forwarder reports nothing at all).
    """
    hint = (
        "turn the forwarder's `siem_backlog` log lines into a metric (aws_cloudwatch_log_metric_filter) and "
        'alarm on it with treat_missing_data = "breaching"'
    )
    alarms = log_event_alarms(project, "siem_backlog")
    if alarms is None:
        return [Finding("no metric is taken from the forwarder's siem_backlog reports", hint, path=RUNTIME_MODULE)]
    if not alarms:
        return [Finding("nothing alarms on the SIEM backlog: a stalled forwarder goes unnoticed", hint, RUNTIME_MODULE)]
    if not any(re.search(r'treat_missing_data\s*=\s*"breaching"', body) for body in alarms):
        return [
            Finding(
                "the SIEM backlog alarm ignores missing data: a dead forwarder, which reports nothing, never alarms",
                'set treat_missing_data = "breaching"',
                path=RUNTIME_MODULE,
            )
        ]
    return []


def _watches(alarm: str, filters: list[str]) -> bool:
    """The alarm's metric is the one a backlog metric filter produces (referenced, not retyped)."""
    metric = METRIC_NAME.search(alarm)
    return metric is not None and any(
        metric.group(1).strip().startswith(f"aws_cloudwatch_log_metric_filter.{name}.") for name in filters
    )
