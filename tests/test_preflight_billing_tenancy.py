"""Preflight of billing, tenancy and AI controls: a generated project passes; each way of breaking it fails.

Two renders serve the whole module (renders cost CPU): a full-featured project
(stripe, pooled, ai_features) copied afresh for every break-one-thing test, and
a project without billing or AI whose billing, AI and RLS controls must not
apply. The other payment providers' adapters are checked by dropping the
template's adapter file into a copy, as a project generated for them has it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from _breakable import edit, private_copy, render
from secure_scaffold.controls import load_catalog
from secure_scaffold.preflight import Status, registry, run_preflight
from secure_scaffold.preflight._project import Project

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "src/secure_app"
BILLING_TEMPLATE = REPO / "template" / "src" / "{{package_name}}" / "{% if billing %}billing{% endif %}"
FAMILIES = ("billing.", "ai.", "tenancy.")
CONTROLS = (
    *(f"PAY-{number:02d}" for number in (1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)),
    *(f"AI-{number:02d}" for number in (1, 2, 3, 4, 5, 6)),
    "AUTH-12",
    "DATA-08",
    "DATA-10",
)


@pytest.fixture
def project(full: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine project, to break in one way."""
    return private_copy(full, tmp_path)


def _checks(report) -> dict[str, Status]:
    return {check.check: check.outcome.status for result in report.results for check in result.checks}


def _control(report, control_id: str):
    return next(result for result in report.results if result.control_id == control_id)


def _set_answer(project: Path, **answers: object) -> None:
    path = project / ".copier-answers.yml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text(encoding="utf-8")), **answers}), encoding="utf-8")


# ------------------------------------------------------------------ passing and not applicable


def test_a_generated_project_passes_every_billing_ai_and_tenancy_check(full: Path) -> None:
    report = run_preflight(full, only=CONTROLS)
    outcomes = {c.check: c.outcome for r in report.results for c in r.checks if c.check.startswith(FAMILIES)}
    assert sorted(outcomes) == sorted(check.name for check in registry if check.name.startswith(FAMILIES))
    assert {name: outcome.status for name, outcome in outcomes.items()} == dict.fromkeys(outcomes, Status.PASSED), {
        name: [finding.message for finding in outcome.findings] for name, outcome in outcomes.items()
    }
    assert {_control(report, control).status for control in CONTROLS} == {Status.PASSED}


def test_without_billing_or_ai_those_controls_do_not_apply_and_their_checks_never_run(
    template_snapshot: Path, tmp_path: Path
) -> None:
    plain = render(template_snapshot, tmp_path / "plain", payment_provider="none", tenancy="single")
    assert not (plain / PACKAGE / "billing").exists()
    applicable = {control.id for control in load_catalog().applicable(Project.load(plain).answers)}
    ours = {control for check in registry if check.name.startswith(FAMILIES) for control in check.controls}
    assert ours & applicable == set()
    assert not applicable & ({f"PAY-{number:02d}" for number in range(1, 15)} | {"MON-04"})
    report = run_preflight(plain, only=["PAY-04", "DATA-08", "AI-03"])
    assert (report.results, set(report.not_applicable) >= {"PAY-04", "DATA-08", "AI-03"}) == ((), True)


def test_the_billing_prerequisite_is_skipped_when_the_answers_say_none(project: Path) -> None:
    """Defence in depth: even called directly, the billing checks stand down for payment_provider: none."""
    _set_answer(project, payment_provider="none", ai_features=False)
    loaded = Project.load(project)
    assert registry["billing.package"].run(loaded).status is Status.SKIPPED
    assert registry["ai.package"].run(loaded).status is Status.SKIPPED


def test_a_repository_without_a_billing_package_gets_one_finding(project: Path) -> None:
    (project / ".copier-answers.yml").unlink()
    shutil.rmtree(project / PACKAGE / "billing")
    report = run_preflight(project, only=["PAY-04", "PAY-06"])
    statuses = _checks(report)
    assert statuses["billing.package"] is Status.FAILED
    assert statuses["billing.webhook_signatures"] is Status.SKIPPED
    assert statuses["billing.idempotency"] is Status.SKIPPED
    assert [finding.message for finding in _control(report, "PAY-04").findings] == ["billing/__init__.py is missing"]


# ------------------------------------------------------------------ break one thing

BREAKS = [
    # (control, check, file, old, new, message fragment, file the finding names)
    pytest.param(
        "PAY-04", "billing.webhook_signatures", f"{PACKAGE}/billing/stripe_provider.py",
        "WEBHOOK_TOLERANCE_SECONDS = 300", "WEBHOOK_TOLERANCE_SECONDS = 86400",
        "allows 86400 s", f"{PACKAGE}/billing/stripe_provider.py", id="stale-tolerance",
    ),
    pytest.param(
        "PAY-04", "billing.webhook_signatures", f"{PACKAGE}/billing/stripe_provider.py",
        "stripe.WebhookSignature.verify_header(", "_trust_anything(",
        "never calls the SDK's signature verifier", f"{PACKAGE}/billing/stripe_provider.py", id="no-sdk-verifier",
    ),
    pytest.param(
        "PAY-04", "billing.webhook_signatures", f"{PACKAGE}/billing/stripe_provider.py",
        "self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS)", "self._webhook_secret, None)",
        "does not apply WEBHOOK_TOLERANCE_SECONDS", f"{PACKAGE}/billing/stripe_provider.py", id="no-age-check",
    ),
    pytest.param(
        "PAY-04", "billing.webhook_signatures", f"{PACKAGE}/web/routes/webhooks.py",
        "    headers = {name.lower()", "    await request.json()\n    headers = {name.lower()",
        "parses the body itself", f"{PACKAGE}/web/routes/webhooks.py", id="route-parses-json",
    ),
    pytest.param(
        "PAY-05", "billing.webhook_replay_guard", f"{PACKAGE}/billing/webhooks.py",
        "ON CONFLICT (provider, event_id) DO NOTHING RETURNING id", "RETURNING id",
        "ON CONFLICT DO NOTHING", f"{PACKAGE}/billing/webhooks.py", id="no-replay-guard",
    ),
    pytest.param(
        "PAY-05", "billing.webhook_replay_guard", f"{PACKAGE}/db/migrations/versions/billing_0001_billing.py",
        'sa.UniqueConstraint("provider", "event_id", name="billing_webhook_events_replay_guard"),', "",
        "no UNIQUE (provider, event_id)", f"{PACKAGE}/db/migrations/versions/billing_0001_billing.py",
        id="no-unique-event-id",
    ),
    pytest.param(
        "PAY-06", "billing.idempotency", f"{PACKAGE}/web/routes/billing.py",
        "reason=body.reason,\n        idempotency_key=idempotency_key,",
        "reason=body.reason,\n        idempotency_key=None,",
        "POST /refunds does not pass the Idempotency-Key", f"{PACKAGE}/web/routes/billing.py", id="refund-key-dropped",
    ),
    pytest.param(
        "PAY-06", "billing.idempotency", f"{PACKAGE}/billing/checkout.py",
        "key = checked_key(idempotency_key)", 'key = idempotency_key or "anonymous"',
        "start() does not require an Idempotency-Key", f"{PACKAGE}/billing/checkout.py", id="checkout-key-optional",
    ),
    pytest.param(
        "PAY-01", "billing.hosted_fields", f"{PACKAGE}/web/routes/billing.py",
        "    coupon: str | None = Field(default=None, min_length=1, max_length=64)\n",
        "    coupon: str | None = None\n    card_number: str | None = None\n",
        "'card_number' would carry card data", f"{PACKAGE}/web/routes/billing.py", id="card-number-field",
    ),
    pytest.param(
        "PAY-07", "billing.server_side_amounts", f"{PACKAGE}/web/routes/billing.py",
        "    quantity: int = Field(default=1, strict=True)\n",
        "    quantity: int = Field(default=1, strict=True)\n    amount: int | None = None\n",
        "CheckoutBody.amount lets the client choose", f"{PACKAGE}/web/routes/billing.py", id="client-amount",
    ),
    pytest.param(
        "PAY-07", "billing.server_side_amounts", f"{PACKAGE}/billing/webhooks.py",
        "matches = paid_as_priced(event, expected.due_now_minor, expected.currency)", "matches = True",
        "marks a checkout paid without comparing", f"{PACKAGE}/billing/webhooks.py", id="checkout-amount-unchecked",
    ),
    pytest.param(
        "PAY-07", "billing.server_side_amounts", f"{PACKAGE}/billing/webhooks.py",
        "if not paid_as_priced(event, checkout.due_now_minor, checkout.currency):", "if False:",
        "marks a checkout paid without comparing", f"{PACKAGE}/billing/webhooks.py", id="first-capture-unchecked",
    ),
    pytest.param(
        "PAY-07", "billing.server_side_amounts", f"{PACKAGE}/billing/webhooks.py",
        "if priced is None or paid_as_priced(event, priced.amount_minor, priced.currency):", "if True:",
        "renewal is applied without comparing", f"{PACKAGE}/billing/webhooks.py", id="renewal-amount-unchecked",
    ),
    pytest.param(
        "PAY-08", "billing.discount_caps", f"{PACKAGE}/config.py",
        "billing_max_discount_percent: int = Field(default=50,",
        "billing_max_discount_percent: int = Field(default=100,",
        "a cap of 100% is no cap", f"{PACKAGE}/config.py", id="percent-cap-100",
    ),
    pytest.param(
        "PAY-08", "billing.discount_caps", f"{PACKAGE}/billing/pricing.py",
        "check_caps(discount, subtotal, self._caps)", "discount = min(discount, subtotal)",
        "without checking the discount caps", f"{PACKAGE}/billing/pricing.py", id="caps-not-checked",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/db/migrations/versions/billing_0001_billing.py",
        'sa.CheckConstraint("approver <> requester", name="billing_approvals_not_requester"),', "",
        "no CHECK (approver <> requester)", f"{PACKAGE}/db/migrations/versions/billing_0001_billing.py",
        id="self-approval-allowed",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/db/migrations/versions/billing_0002_payment_ledger.py",
        '    op.create_check_constraint(\n        "billing_approvals_not_beneficiary",',
        '    print(\n        "billing_approvals_not_beneficiary",',
        "no CHECK (approver_tenant <> beneficiary_tenant)",
        f"{PACKAGE}/db/migrations/versions/billing_0001_billing.py", id="beneficiary-approval-allowed",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/db/migrations/versions/billing_0002_payment_ledger.py",
        '" AND credited_minor + refunded_minor <= captured_minor",', '" AND credited_minor >= 0",',
        "credits and refunds could add up to more than was paid",
        f"{PACKAGE}/db/migrations/versions/billing_0002_payment_ledger.py", id="ledger-unbounded",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", "policy/roles.yaml",
        "      credits:request: []\n      payouts:edit: []",
        "      credits:request: []\n      credits:approve: []\n      payouts:edit: []",
        "grants credits:approve to the tenant role 'finance'", "policy/roles.yaml", id="tenant-finance-approves",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/billing/approvals.py",
        "paid = self._ledger.owned_by(connection, principal.tenant, reference)",
        "paid = self._ledger.get(connection, reference)",
        "not looked up among the caller's tenant's recorded payments", f"{PACKAGE}/billing/approvals.py",
        id="credit-names-any-payment",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/billing/approvals.py",
        "required = self._required_approvals(connection, paid, amount, now)",
        "required = self._rules.required_approvals(amount)",
        "splitting a credit into parts below it dodges the second approver", f"{PACKAGE}/billing/approvals.py",
        id="threshold-per-request",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/billing/approvals.py",
        "        except ProviderOutcomeUnknownError:\n", "        except (ProviderOutcomeUnknownError, KeyError):\n",
        "an uncertain provider failure (5xx, timeout) releases the reserved amount", f"{PACKAGE}/billing/approvals.py",
        id="uncertain-failure-released",
    ),
    pytest.param(
        "PAY-09", "billing.dual_approval", f"{PACKAGE}/billing/approvals.py",
        "closed = self._ledger.close_if_given_back(connection, row.payment_id)", "closed = None",
        "neither close it nor revoke its subscription", f"{PACKAGE}/billing/approvals.py",
        id="given-back-stays-open",
    ),
    pytest.param(
        "PAY-12", "billing.invoice_object_lock", "infra/terraform/modules/invoices/main.tf",
        'mode = "COMPLIANCE"', 'mode = "GOVERNANCE"',
        "not COMPLIANCE mode", "infra/terraform/modules/invoices/main.tf", id="governance-lock",
    ),
    pytest.param(
        "DATA-08", "tenancy.rls_forced", f"{PACKAGE}/db/migrations/versions/tenancy_0001_tenant_isolation.py",
        '        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")\n', "",
        "tenant table projects: row-level security is not forced", f"{PACKAGE}/db/migrations/versions/0001_projects.py",
        id="rls-not-forced",
    ),
    pytest.param(
        "AI-03", "ai.model_pinned", f"{PACKAGE}/config.py",
        "llm_model_version: str | None = Field(default=None,",
        'llm_model_version: str | None = Field(default="latest",',
        "floating model reference", f"{PACKAGE}/config.py", id="latest-model",
    ),
    pytest.param(
        "AI-02", "ai.tool_allowlist", f"{PACKAGE}/ai/assistant.py",
        '"projects:read", {}, list_projects', '"credits:approve", {}, list_projects',
        "privileged permission 'credits:approve'", f"{PACKAGE}/ai/assistant.py", id="privileged-tool",
    ),
    pytest.param(
        "AUTH-12", "ai.tool_allowlist", f"{PACKAGE}/ai/tools.py",
        "if spec.admin_action or spec.requires_step_up:", "if False:",
        "does not refuse admin and step-up permissions", f"{PACKAGE}/ai/tools.py", id="registry-accepts-admin",
    ),
    pytest.param(
        "AI-01", "ai.prompt_redaction", f"{PACKAGE}/ai/gateway.py",
        'Message("user", redact_prompt(question))', 'Message("user", question)',
        "user messages reach the model without redact_prompt", f"{PACKAGE}/ai/gateway.py", id="unredacted-prompt",
    ),
    pytest.param(
        "AI-06", "ai.canary", f"{PACKAGE}/ai/gateway.py",
        "            self._check_for_leaks(canary, reply)\n", "",
        "not checked for the canary", f"{PACKAGE}/ai/gateway.py", id="canary-unchecked",
    ),
    pytest.param(
        "AI-04", "ai.vector_store_limits", f"{PACKAGE}/ai/vector_store.py",
        "        self.apply_timeout(tx)\n", "",
        "without a transaction-local statement_timeout", f"{PACKAGE}/ai/vector_store.py", id="no-statement-timeout",
    ),
    pytest.param(
        "AI-04", "ai.vector_store_limits", f"{PACKAGE}/ai/vector_store.py",
        "            limit_cap=settings.vector_query_limit,\n", "            limit_cap=20,\n",
        "never reads vector_query_limit", f"{PACKAGE}/ai/vector_store.py", id="query-limit-setting-unread",
    ),
    pytest.param(
        "AI-04", "ai.vector_store_limits", f"{PACKAGE}/ai/assistant.py",
        "    return VectorStore.from_settings(services.settings, services.keyring)",
        "    return VectorStore(services.keyring)",
        "not built from the settings", f"{PACKAGE}/ai/assistant.py", id="assistant-store-unconfigured",
    ),
    pytest.param(
        "AI-04", "ai.vector_store_limits", f"{PACKAGE}/ai/vector_store.py",
        "decisions[record] = may_read(record)", "decisions[record] = True",
        "without a per-document access decision", f"{PACKAGE}/ai/vector_store.py", id="no-per-document-decision",
    ),
    pytest.param(
        "AI-01", "ai.prompt_redaction", f"{PACKAGE}/ai/gateway.py",
        "json.dumps(redact_structured(result, tagged=self._tagged), default=str, ensure_ascii=False)",
        "json.dumps(result, default=str, ensure_ascii=False)",
        "serialised before their credential-named keys are withheld", f"{PACKAGE}/ai/gateway.py",
        id="tool-data-serialised-unredacted",
    ),
    # The prompt budget (AI-02): the cap on EVERY call, the tenant budget, the configured limits.
    pytest.param(
        "AI-02", "ai.prompt_budget", f"{PACKAGE}/ai/gateway.py",
        "        if size > self.max_prompt_chars:\n            raise PromptTooLargeError(\n",
        "        if False:\n            print(\n",
        "calls the model without capping the whole prompt first", f"{PACKAGE}/ai/gateway.py",
        id="model-call-uncapped",
    ),
    pytest.param(
        "AI-02", "ai.prompt_budget", f"{PACKAGE}/ai/gateway.py",
        "        reservation = self.budget.reserve(tenant_of(principal), size)\n"
        "        reply = self.provider.complete(self.pin, messages, specs)\n"
        "        self.budget.settle(reservation, reply.usage)\n",
        "        reply = self.provider.complete(self.pin, messages, specs)\n",
        "without reserving the tenant's budget", f"{PACKAGE}/ai/gateway.py", id="model-call-unbudgeted",
    ),
    pytest.param(
        "AI-02", "ai.prompt_budget", f"{PACKAGE}/ai/gateway.py",
        "        budget: TenantBudget,\n", "        budget: TenantBudget | None = None,\n",
        "can be built without a tenant budget", f"{PACKAGE}/ai/gateway.py", id="budget-optional",
    ),
    pytest.param(
        "AI-02", "ai.prompt_budget", f"{PACKAGE}/ai/gateway.py",
        "redact_prompt(self._as_text(result), max_chars=self.max_tool_result_chars)",
        "redact_prompt(self._as_text(result))",
        "tool results reach the model without a size cap", f"{PACKAGE}/ai/gateway.py", id="tool-result-uncut",
    ),
    pytest.param(
        "AI-02", "ai.prompt_budget", f"{PACKAGE}/ai/assistant.py",
        "        budget=build_budget(services),\n", "",
        "builds the gateway without budget", f"{PACKAGE}/ai/assistant.py", id="assistant-without-budget",
    ),
    pytest.param(
        "AI-02", "ai.prompt_budget", f"{PACKAGE}/config.py",
        "llm_tenant_requests_per_window: int = Field(default=600,",
        "llm_tenant_requests_per_window: int = Field(default=0,",
        "llm_tenant_requests_per_window defaults to 0", f"{PACKAGE}/config.py", id="request-budget-zero",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("control", "check", "relative", "old", "new", "message", "where"), BREAKS)
def test_breaking_a_control_fails_it_and_names_the_file(
    project: Path, control: str, check: str, relative: str, old: str, new: str, message: str, where: str
) -> None:
    edit(project, relative, old, new)
    report = run_preflight(project, only=[control])
    assert _checks(report)[check] is Status.FAILED
    result = _control(report, control)
    assert result.status is Status.FAILED
    matching = [finding for finding in result.findings if message in finding.message]
    assert matching, [finding.message for finding in result.findings]
    assert matching[0].path == where
    if result.severity == "blocking":
        assert control in [failure.control_id for failure in report.blocking_failures]


def _add_file(project: Path, relative: str, text: str) -> None:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


NEW_TENANT_TABLE = '''"""A later feature's table, added by a developer.

Revision ID: 0002
Revises: tenancy_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "tenancy_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
{extra}

def downgrade() -> None:
    op.drop_table("notes")
'''


def test_a_new_tenant_table_without_a_policy_fails_data_08(project: Path) -> None:
    relative = f"{PACKAGE}/db/migrations/versions/0002_notes.py"
    _add_file(project, relative, NEW_TENANT_TABLE.format(extra=""))
    report = run_preflight(project, only=["DATA-08"])
    findings = _control(report, "DATA-08").findings
    assert {finding.path for finding in findings} == {relative}
    assert [finding.message for finding in findings] == [
        "tenant table notes: row-level security is not enabled",
        "tenant table notes: row-level security is not forced (the table owner would bypass it)",
        "tenant table notes: no FOR ALL policy comparing tenant_id with app.tenant_id in USING and WITH CHECK",
    ]


def test_an_open_permissive_policy_fails_data_08_even_with_rls_forced(project: Path) -> None:
    extra = "\n".join(
        f'    op.execute("{sql}")'
        for sql in (
            "ALTER TABLE notes ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE notes FORCE ROW LEVEL SECURITY",
            "CREATE POLICY tenant_isolation ON notes FOR ALL USING (tenant_id = current_setting('app.tenant_id', true))"
            " WITH CHECK (tenant_id = current_setting('app.tenant_id', true))",
            "CREATE POLICY support_reads ON notes FOR SELECT USING (true)",
        )
    )
    relative = f"{PACKAGE}/db/migrations/versions/0002_notes.py"
    _add_file(project, relative, NEW_TENANT_TABLE.format(extra=extra))
    report = run_preflight(project, only=["DATA-08"])
    assert [finding.message for finding in _control(report, "DATA-08").findings] == [
        "tenant table notes: permissive policy 'support_reads' does not bind the tenant (policies are OR-ed: "
        "it widens access)"
    ]
    edit(project, relative, "FOR SELECT USING (true)", "AS RESTRICTIVE FOR SELECT USING (true)")
    assert _control(run_preflight(project, only=["DATA-08"]), "DATA-08").status is Status.PASSED


def test_a_card_input_on_a_page_fails_pay_02(project: Path) -> None:
    relative = f"{PACKAGE}/web/templates/pay.html"
    _add_file(project, relative, '<form>\n  <input name="cvc" autocomplete="cc-csc">\n</form>\n')
    report = run_preflight(project, only=["PAY-02"])
    findings = _control(report, "PAY-02").findings
    assert [(finding.message, finding.path, finding.line) for finding in findings] == [
        ("a form field 'cvc' collects card data on our page", relative, 2),
        ("a form field 'cc-csc' collects card data on our page", relative, 2),
    ]


def test_a_floating_model_in_a_deployment_file_fails_ai_03(project: Path) -> None:
    _add_file(
        project, "deploy/values.yaml", "env:\n  APP_LLM_MODEL: vendor-model-large\n  APP_LLM_MODEL_VERSION: latest\n"
    )
    report = run_preflight(project, only=["AI-03"])
    findings = _control(report, "AI-03").findings
    assert [(finding.path, finding.line) for finding in findings] == [("deploy/values.yaml", 3)]


# ------------------------------------------------------------------ the other providers' adapters

ADAPTER_BREAKS = {
    "adyen": ("adyen_util.is_valid_hmac_notification(item, self._hmac_key)", "True", "signature verifier"),
    "braintree": ("WEBHOOK_TOLERANCE = timedelta(hours=25)", "WEBHOOK_TOLERANCE = timedelta(days=30)", "allows"),
    "paddle": (
        "Verifier(WEBHOOK_TOLERANCE_SECONDS).verify(request, self._secret, verify_time_drift=False)",
        "True",
        "signature verifier",
    ),
}


@pytest.mark.parametrize("provider", sorted(ADAPTER_BREAKS))
def test_each_providers_webhook_verifier_is_recognised_and_its_removal_fails_pay_04(
    project: Path, provider: str
) -> None:
    adapter = next(BILLING_TEMPLATE.glob(f"*{provider}_provider.py*"))
    relative = f"{PACKAGE}/billing/{provider}_provider.py"
    shutil.copy(adapter, project / relative)
    _set_answer(project, payment_provider=provider)
    assert _checks(run_preflight(project, only=["PAY-04"]))["billing.webhook_signatures"] is Status.PASSED
    old, new, message = ADAPTER_BREAKS[provider]
    edit(project, relative, old, new)
    report = run_preflight(project, only=["PAY-04"])
    assert [finding.path for finding in _control(report, "PAY-04").findings if message in finding.message] == [relative]
