"""Money going back to customers (PAY-09): only to the tenant that paid, approved only by the vendor's operators.

Proves, statically, from the migrations, policy/roles.yaml and the approval
service, the invariants a tenant's own staff would otherwise break:

- the database refuses a self-approval (CHECK approver <> requester) and a
  second vote by the same approver (a key over adjustment and approver);
- the database refuses an approval by the tenant that receives the money
  (CHECK approver_tenant <> beneficiary_tenant on `billing_approvals`);
- a payment ledger bounds what may go back: `billing_payments`, one row per
  (provider, reference), with CHECK credited + refunded <= captured;
- `credits:approve` is granted to vendor-only roles alone (`vendor_only: true`),
  never to a customer tenant's finance users or admins;
- the service refuses the requester and the beneficiary, and looks payments up
  among the caller's tenant's ledger rows;
- the second-approval threshold applies to the running total (split requests
  still need two approvers), an uncertain provider failure keeps the reserved
  amount, and credits and refunds that give back the whole payment close it.
"""

from __future__ import annotations

import re

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from ._source import location, source
from .authz import ROLES_FILE, as_mapping, roles_document
from .billing import REQUIRES, migrated_table

APPROVE = "credits:approve"
_NOT_REQUESTER = re.compile(r"\bapprover\s*(<>|!=)\s*requester\b|\brequester\s*(<>|!=)\s*approver\b")
_NOT_BENEFICIARY = re.compile(
    r"\bapprover_tenant\s*(<>|!=)\s*beneficiary_tenant\b|\bbeneficiary_tenant\s*(<>|!=)\s*approver_tenant\b"
)
_WITHIN_CAPTURED = re.compile(r"\bcredited_minor\s*\+\s*refunded_minor\s*<=\s*captured_minor\b")


def _approval_table_findings(project: Project) -> list[Finding]:
    table = migrated_table(project, "billing_approvals")
    if table is None:
        hint = "record approvals with CHECK (approver <> requester)"
        return [Finding("no billing_approvals table in the migrations", hint)]
    findings = []
    if not any(_NOT_REQUESTER.search(check) for check in table.checks):
        findings.append(
            Finding(
                "billing_approvals has no CHECK (approver <> requester): a bypass of the service could self-approve",
                "add CheckConstraint('approver <> requester')",
                path=table.path,
                line=table.line,
            )
        )
    if not any({"adjustment_id", "approver"} <= set(columns) for columns in table.unique):
        findings.append(
            Finding(
                "one approver could approve the same request twice (no key over adjustment_id, approver)",
                "PrimaryKeyConstraint('adjustment_id', 'approver')",
                path=table.path,
                line=table.line,
            )
        )
    if not any(_NOT_BENEFICIARY.search(check) for check in table.checks):
        findings.append(
            Finding(
                "billing_approvals has no CHECK (approver_tenant <> beneficiary_tenant): "
                "a tenant could approve money going back to itself",
                "op.create_check_constraint('billing_approvals_not_beneficiary', 'billing_approvals', "
                "\"beneficiary_tenant = '' OR approver_tenant <> beneficiary_tenant\")",
                path=table.path,
                line=table.line,
            )
        )
    return findings


def _ledger_findings(project: Project) -> list[Finding]:
    table = migrated_table(project, "billing_payments")
    if table is None:
        return [
            Finding(
                "no payment ledger (billing_payments) in the migrations: credits could name any payment",
                "record captured payments from verified webhooks, keyed by (provider, reference), with their tenant",
            )
        ]
    findings = []
    if not any({"provider", "reference"} == set(columns) for columns in table.unique):
        findings.append(
            Finding(
                "billing_payments is not unique per (provider, reference): one payment could be booked twice",
                "UniqueConstraint('provider', 'reference')",
                path=table.path,
                line=table.line,
            )
        )
    if not any(_WITHIN_CAPTURED.search(check) for check in table.checks):
        findings.append(
            Finding(
                "billing_payments has no CHECK (credited_minor + refunded_minor <= captured_minor): "
                "credits and refunds could add up to more than was paid",
                "add the CHECK; reserve each amount with one conditional UPDATE",
                path=table.path,
                line=table.line,
            )
        )
    return findings


def _grant_findings(project: Project) -> list[Finding]:
    document = roles_document(project)
    if document is None:
        return [Finding(f"{ROLES_FILE} is missing or unreadable", "restore the role-permission matrix", ROLES_FILE)]
    roles = {name: as_mapping(role) for name, role in as_mapping(document.get("roles")).items()}
    approvers = {name: role for name, role in roles.items() if APPROVE in as_mapping(role.get("grants"))}
    tenant_approvers = sorted(name for name, role in approvers.items() if role.get("vendor_only") is not True)
    findings = [
        Finding(
            f"{ROLES_FILE} grants {APPROVE} to the tenant role {name!r}: a tenant would approve its own refunds",
            f"grant {APPROVE} only to a `vendor_only: true` role (operator_finance)",
            ROLES_FILE,
        )
        for name in tenant_approvers
    ]
    if not approvers:
        findings.append(
            Finding(
                f"no role of {ROLES_FILE} may approve credits",
                f"grant {APPROVE} to the vendor's `vendor_only: true` operator_finance role",
                ROLES_FILE,
            )
        )
    return findings


def _service_findings(project: Project) -> list[Finding]:
    approvals = source(project, "billing/approvals.py") or ""
    path = location(project, "billing/approvals.py")
    expected = {
        "SelfApprovalError": "the approval service never refuses the requester",
        "BeneficiaryApprovalError": "the approval service never refuses the tenant receiving the money",
        ".owned_by(": "credits are not looked up among the caller's tenant's recorded payments",
        "self._required_approvals(": "the second-approval threshold is applied to each request alone: "
        "splitting a credit into parts below it dodges the second approver",
        "except ProviderOutcomeUnknownError": "an uncertain provider failure (5xx, timeout) releases the reserved "
        "amount: a new request could move money the provider already moved",
        "self._ledger.close_if_given_back(": "credits and refunds that give back the whole payment neither close it "
        "nor revoke its subscription",
    }
    return [
        Finding(message, f"restore `{needle.strip('.(')}` in billing/approvals.py", path=path)
        for needle, message in expected.items()
        if needle not in approvals
    ]


@register("billing.dual_approval", controls=("PAY-09",), requires=REQUIRES)
def dual_approval(project: Project) -> Outcome:
    """Money goes back only to the payer's tenant, with a vendor operator's approval that the database backs."""
    findings = [
        *_approval_table_findings(project),
        *_ledger_findings(project),
        *_grant_findings(project),
        *_service_findings(project),
    ]
    if findings:
        return failed(*findings)
    return passed(
        "credits and refunds name a recorded payment of the caller's tenant, stay within what it captured, and "
        "are approved only by vendor operators other than the requester and the beneficiary (service and CHECKs)"
    )
