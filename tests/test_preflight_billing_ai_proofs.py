"""Preflight of invoice encryption and seals, tax rules, lifecycle tests and AI red-team tests.

PAY-10, PAY-11, PAY-13, PAY-14 and AI-05: a generated project passes each;
each way of breaking one property fails it with its exact finding. A pristine
full-featured render (stripe, pooled, ai_features) is copied afresh for every
break-one-thing test; a paddle render (merchant of record: no provider tax
engine, its own harness and tests) shows another provider's project passes too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from _breakable import edit, private_copy, render
from secure_scaffold.controls import load_catalog
from secure_scaffold.preflight import Status, run_preflight
from secure_scaffold.preflight._project import Project

PACKAGE = "src/secure_app"
CHECKS = {
    "PAY-10": "billing.invoice_encryption",
    "PAY-11": "billing.invoice_seal",
    "PAY-13": "billing.tax_jurisdictions",
    "PAY-14": "billing.lifecycle_tests",
    "AI-05": "ai.red_team_tests",
}
CONTROLS = tuple(CHECKS)


@pytest.fixture
def project(full: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine project, to break in one way."""
    return private_copy(full, tmp_path)


def _outcomes(project: Path) -> dict[str, tuple[Status, list[str]]]:
    """Check name -> (status, finding messages), for the five controls."""
    report = run_preflight(project, only=CONTROLS)
    return {
        check.check: (check.outcome.status, [finding.message for finding in check.outcome.findings])
        for result in report.results
        for check in result.checks
    }


def _failed(project: Path, control: str):
    """The findings of `control`'s check, after asserting that it and the control FAILED."""
    report = run_preflight(project, only=[control])
    [result] = report.results
    outcome = next(check.outcome for check in result.checks if check.check == CHECKS[control])
    assert (outcome.status, result.status) == (Status.FAILED, Status.FAILED), outcome
    return outcome.findings


# ------------------------------------------------------------------ passing and not applicable


def test_a_generated_project_passes_all_five_controls(full: Path) -> None:
    outcomes = _outcomes(full)
    assert {CHECKS[control] for control in CONTROLS} <= set(outcomes)
    assert {name: status for name, (status, _) in outcomes.items()} == dict.fromkeys(outcomes, Status.PASSED), outcomes


def test_a_paddle_project_passes_all_five_controls(template_snapshot: Path, tmp_path: Path) -> None:
    paddle = render(
        template_snapshot, tmp_path / "paddle", payment_provider="paddle", tenancy="single", ai_features=True
    )
    outcomes = _outcomes(paddle)
    assert {CHECKS[control] for control in CONTROLS} <= set(outcomes)
    assert {name: status for name, (status, _) in outcomes.items()} == dict.fromkeys(outcomes, Status.PASSED), outcomes


def test_without_billing_or_ai_the_five_controls_do_not_apply(full: Path) -> None:
    answers = Project.load(full).answers
    applicable = {control.id for control in load_catalog().applicable(answers)}
    assert set(CONTROLS) <= applicable
    plain = {**answers, "payment_provider": "none", "ai_features": False}
    assert not {control.id for control in load_catalog().applicable(plain)} & set(CONTROLS)


def test_a_repository_without_a_billing_package_reports_it_under_the_new_controls(project: Path) -> None:
    (project / ".copier-answers.yml").unlink()
    shutil.rmtree(project / PACKAGE / "billing")
    report = run_preflight(project, only=["PAY-10", "PAY-14"])
    for result in report.results:
        statuses = {check.check: check.outcome.status for check in result.checks}
        assert statuses == {"billing.package": Status.FAILED, CHECKS[result.control_id]: Status.SKIPPED}
        assert [finding.message for finding in result.findings] == ["billing/__init__.py is missing"]


def test_a_ciphertext_bound_to_a_name_first_still_counts_as_encrypted(project: Path) -> None:
    """The store may receive a variable, as long as it holds the encryptor's output."""
    old = "self._store.put(key, self._encryptor.encrypt(tenant, document, context=self._context(invoice_id)))"
    new = "blob = self._encryptor.encrypt(tenant, document, context=self._context(invoice_id))\n"
    edit(project, f"{PACKAGE}/billing/invoices.py", old, f"{new}            self._store.put(key, blob)")
    assert _outcomes(project)["billing.invoice_encryption"] == (Status.PASSED, [])


# ------------------------------------------------------------------ break one thing

INVOICES = f"{PACKAGE}/billing/invoices.py"
TAX = f"{PACKAGE}/billing/tax.py"
GUARDRAILS = "tests/test_ai_guardrails.py"

BREAKS = [
    # (control, file, old, new, exact finding messages, file the findings name)
    pytest.param(
        "PAY-10", INVOICES,
        "self._store.put(key, self._encryptor.encrypt(tenant, document, context=self._context(invoice_id)))",
        "self._store.put(key, document)",
        ["issue() hands the store an invoice that is not the encryptor's ciphertext"], INVOICES,
        id="plain-pdf-stored",
    ),
    pytest.param(
        "PAY-10", f"{PACKAGE}/billing/encryption.py",
        "AESGCM(data_key).encrypt(nonce, plaintext, self._aad(tenant, context))",
        "AESGCM(data_key).encrypt(nonce, plaintext, None)",
        ["the invoice ciphertext is not bound to its tenant (no associated data naming the tenant)"],
        f"{PACKAGE}/billing/encryption.py", id="no-associated-data",
    ),
    pytest.param(
        "PAY-10", f"{PACKAGE}/billing/service.py",
        "EnvelopeEncryptor(\n                build_invoice_keys(\n                    settings, services.secrets, "
        "sealer=TenantKeySealer(lambda: services.data, lambda: services.keyring)\n                )\n            )",
        "EnvelopeEncryptor(LocalTenantKeys(settings.session_secret))",
        [
            "invoice data keys are not wrapped by the project's KEK: InvoiceService gets no "
            "EnvelopeEncryptor(build_invoice_keys(...))"
        ],
        f"{PACKAGE}/billing/service.py", id="root-secret-keys",
    ),
    pytest.param(
        "PAY-11", INVOICES,
        "if not hmac.compare_digest(_sha256(document), row.document_sha256):",
        "if _sha256(document) != row.document_sha256:",
        [
            "fetch() compares invoice digests with == / != (not constant-time)",
            "fetch() returns invoices without comparing the PDF's SHA-256 with document_sha256 in constant time",
        ],
        INVOICES, id="timing-unsafe-compare",
    ),
    pytest.param(
        "PAY-11", INVOICES,
        'self._tampered(tenant, row, actor, "seal_mismatch")', 'print("seal_mismatch")',
        ["fetch() does not refuse an invoice whose content_sha256 does not match"], INVOICES,
        id="seal-mismatch-served",
    ),
    pytest.param(
        "PAY-11", INVOICES,
        "return hashlib.sha256(data).hexdigest()", "return hashlib.md5(data).hexdigest()",
        ["invoices are not sealed with SHA-256"], INVOICES, id="md5-seal",
    ),
    pytest.param(
        "PAY-13", TAX, '"MT": "18", ', "",
        ["the EU VAT table misses member states: MT (their sales would be taxed at 0%)"], TAX,
        id="member-state-missing",
    ),
    pytest.param(
        "PAY-13", f"{PACKAGE}/config.py",
        'billing_seller_country: str = Field(default="DE"', 'billing_seller_country: str = Field(default="CH"',
        ["the seller's country 'CH' has no rule in the tax table (its domestic sales would be taxed at 0%)"],
        f"{PACKAGE}/config.py", id="seller-outside-the-table",
    ),
    pytest.param(
        "PAY-13", TAX, "reverse_charge=True", "reverse_charge=False",
        ["no reverse charge: a B2B customer with a VAT id outside the seller's country is charged VAT"], TAX,
        id="no-reverse-charge",
    ),
    pytest.param(
        "PAY-13", TAX,
        'raise TaxError("a US customer needs a two-letter state for sales tax")',
        'return TaxDecision("US", Decimal(0))',
        ["a US sale without a valid state is taxed anyway (no TaxError on customer.region)"], TAX,
        id="us-state-guessed",
    ),
    pytest.param(
        "PAY-14", "tests/billing/test_billing_lifecycle.py",
        "def test_proration_on_plan_change(", "def test_plan_change(",
        ["no test exercises proration: none named like 'prorat' calls prorate() and asserts"], "tests",
        id="proration-untested",
    ),
    pytest.param(
        "PAY-14", "tests/billing/test_billing_approvals.py",
        "def test_partial_refunds_add_up_to_at_most_the_captured_amount(",
        '@pytest.mark.skip(reason="flaky")\ndef test_partial_refunds_add_up_to_at_most_the_captured_amount(',
        [
            "no test exercises partial refunds: none named like 'partial.*refund|refund.*partial' calls "
            "request_refund() and asserts"
        ],
        "tests", id="partial-refunds-skipped",
    ),
    pytest.param(
        "PAY-14", f"{PACKAGE}/billing/subscriptions.py", "def renewal_failed(", "def renewal_declined(",
        ["renewal_failed() is missing from billing/subscriptions.py"], f"{PACKAGE}/billing/subscriptions.py",
        id="dunning-removed",
    ),
    pytest.param(
        "AI-05", GUARDRAILS, 'ToolCall("list_projects", {"tenant": B})', 'ToolCall("list_projects", {"project": B})',
        ["no red-team test covers auth: a model smuggling another tenant, user or role into a tool call"], "tests",
        id="no-identity-injection",
    ),
    pytest.param(
        "AI-05", GUARDRAILS, "pytest.raises(ToolPermissionError)", "pytest.raises(AiRefusedError)",
        ["no red-team test covers RBAC: a tool the caller's role does not grant"], "tests", id="no-rbac-injection",
    ),
    pytest.param(
        "AI-05", GUARDRAILS, '"approve_credit", ', "",
        ["no red-team test covers payments: an injection asking for a credit, refund or payout"], "tests",
        id="no-payment-injection",
    ),
    pytest.param(
        "AI-05", GUARDRAILS,
        'with pytest.raises(ToolNotAllowedError):\n        gateway.ask(principal(A, "admin")',
        'with pytest.raises(AiRefusedError):\n        gateway.ask(principal(A, "admin")',
        ["no red-team test covers the tool allow-list: a tool that is not registered"], "tests",
        id="allow-list-unasserted",
    ),
    pytest.param(
        "AI-05", GUARDRAILS, "pytest.raises(CanaryLeakedError)", "pytest.raises(AiRefusedError)",
        ["no red-team test covers the canary: a model reciting its system prompt"], "tests", id="canary-unasserted",
    ),
    pytest.param(
        "AI-05", GUARDRAILS,
        "from secure_app.ai.gateway import LlmGateway", "from _fake_model import ScriptedModel as LlmGateway",
        ["no red-team test drives the project's LlmGateway with an injection it must refuse"], "tests",
        id="stub-gateway",
    ),
    pytest.param(
        "AI-05", GUARDRAILS, "\nA, B = ", '\npytestmark = pytest.mark.skip(reason="slow")\nA, B = ',
        ["no red-team test drives the project's LlmGateway with an injection it must refuse"], "tests",
        id="red-team-module-skipped",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("control", "relative", "old", "new", "messages", "where"), BREAKS)
def test_breaking_one_property_fails_its_control_with_the_exact_finding(
    project: Path, control: str, relative: str, old: str, new: str, messages: list[str], where: str
) -> None:
    edit(project, relative, old, new)
    findings = _failed(project, control)
    assert [finding.message for finding in findings] == messages
    assert {finding.path for finding in findings} == {where}
