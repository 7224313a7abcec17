"""The controls catalog covers the whole checklist, loads strictly, and never overstates what is implemented.

`implemented` is a claim about generated projects, so it is checked against a
real one: a project rendered from this working tree must contain every
`implemented_in` path and every `proven_by` test function.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import _breakable
from secure_scaffold.controls import (
    CLOSING_SECTION,
    AnswersError,
    CatalogError,
    Control,
    catalog_as_json,
    load_catalog,
    parse_checklist,
    render_markdown,
    render_text_table,
)
from secure_scaffold.controls._conditions import Answers as AnswerView
from secure_scaffold.controls._conditions import ConditionError, parse_condition
from secure_scaffold.errors import SecureScaffoldError

REPO = Path(__file__).resolve().parents[1]
PACKAGED_CHECKLIST = REPO / "src" / "secure_scaffold" / "controls" / "checklist.md"
SHARED_CHECKLIST = REPO.parent / "shared" / "checklist.md"
CLOSING_MARKER = "Review quarterly, tie controls to owners, and measure outcomes."
ID_PATTERN = re.compile(r"^(AUTH|AUTHZ|PAY|DATA|AI|MON|OPS|DEPLOY|GOV)-(\d{2})$")

CATALOG = load_catalog()
IMPLEMENTED = [control for control in CATALOG if control.status == "implemented"]

#: copier.yml's defaults, as `.copier-answers.yml` stores them.
DEFAULTS: dict[str, Any] = {
    "framework": "fastapi",
    "idp": "generic_oidc",
    "payment_provider": "stripe",
    "tenancy": "pooled",
    "cloud": "aws",
    "secrets_backend": "vault",
    "ci": "github",
    "policy_engine": "casbin",
    "ai_features": False,
    "compliance": ["soc2"],
    "package_name": "secure_app",
}


def _answers(**changes: Any) -> dict[str, Any]:
    return {**DEFAULTS, **changes}


def _ids(controls: list[Control], family: str | None = None) -> set[str]:
    return {control.id for control in controls if family is None or control.family == family}


# ------------------------------------------------------------------ coverage of the checklist


def _raw_requirement_lines() -> list[str]:
    """Bullets and the closing paragraph, read without the package's parser."""
    rows = PACKAGED_CHECKLIST.read_text(encoding="utf-8").splitlines()
    bullets = [row[2:].strip() for row in rows if row.startswith("- ")]
    closing = [row.strip() for row in rows if CLOSING_MARKER in row]
    assert len(closing) == 1, "the checklist's closing paragraph moved; update CLOSING_MARKER"
    return [*bullets, *closing]


def test_the_parser_finds_every_bullet_and_the_closing_paragraph() -> None:
    parsed = parse_checklist(PACKAGED_CHECKLIST.read_text(encoding="utf-8"))
    assert [line.text for line in parsed.lines] == _raw_requirement_lines()
    assert parsed.lines[-1].section == CLOSING_SECTION
    assert parsed.sections == (
        "Identity and authentication",
        "Authorization and RBAC",
        "Payments, billing, and invoicing",
        "Data security and AI-specific risks",
        "Monitoring, testing, and response",
        "Deployment snapshot",
        CLOSING_SECTION,
    )


@pytest.mark.parametrize("line", _raw_requirement_lines())
def test_every_checklist_line_maps_to_at_least_one_control(line: str) -> None:
    assert CATALOG.for_line(line), f"no control splits the checklist line {line!r}"


def test_every_control_cites_a_real_checklist_line_of_its_section() -> None:
    raw = set(_raw_requirement_lines())
    parsed = parse_checklist(PACKAGED_CHECKLIST.read_text(encoding="utf-8"))
    for control in CATALOG:
        assert control.checklist in raw, control.id
        assert parsed.section_of(control.checklist) == control.section, control.id


def test_packaged_checklist_is_the_shared_checklist() -> None:
    packaged = PACKAGED_CHECKLIST.read_bytes()
    if SHARED_CHECKLIST.is_file():
        assert packaged == SHARED_CHECKLIST.read_bytes(), "copy ../shared/checklist.md into the package again"
    else:
        assert packaged.strip(), "the packaged checklist is empty"


# ------------------------------------------------------------------ ids


def test_ids_are_unique_and_well_formed() -> None:
    ids = [control.id for control in CATALOG]
    assert len(ids) == len(set(ids))
    assert all(ID_PATTERN.match(control_id) for control_id in ids), ids


def test_ids_of_each_family_are_numbered_without_unexplained_gaps() -> None:
    """A deleted control leaves a gap; the gap must be recorded in `retired` so its id is never reused."""
    numbers: dict[str, set[int]] = {}
    for control_id in [control.id for control in CATALOG] + sorted(CATALOG.retired):
        match = ID_PATTERN.match(control_id)
        assert match is not None
        numbers.setdefault(match.group(1), set()).add(int(match.group(2)))
    for family, used in numbers.items():
        assert used == set(range(1, max(used) + 1)), f"{family}: a gap in ids is not listed in `retired`"


def test_every_family_is_used() -> None:
    assert {control.family for control in CATALOG} == {
        "AUTH", "AUTHZ", "PAY", "DATA", "AI", "MON", "OPS", "DEPLOY", "GOV"
    }  # fmt: skip


# ------------------------------------------------------------------ the loader rejects malformed catalogs

DELETE = object()
BASE_CONTROL: dict[str, Any] = {
    "id": "AUTH-01",
    "title": "Require MFA for every user",
    "section": "Identity and authentication",
    "checklist": "Mandate MFA; add WebAuthn for admins and finance roles to block SIM-swap attacks.",
    "severity": "blocking",
    "owner": "security",
    "applies_when": "always",
    "compliance": {"soc2": ["CC6.1"]},
    "status": "planned",
    "implemented_in": [],
    "proven_by": [],
    "preflight": None,
}


def _write(tmp_path: Path, controls: list[dict[str, Any]], **top: Any) -> Path:
    path = tmp_path / "catalog.yaml"
    document = {"version": 1, "retired": [], "controls": controls, **top}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _control(**changes: Any) -> dict[str, Any]:
    control = {**BASE_CONTROL, **changes}
    return {key: value for key, value in control.items() if value is not DELETE}


def test_the_base_fixture_is_valid(tmp_path: Path) -> None:
    catalog = load_catalog(_write(tmp_path, [_control(), _control(id="AUTH-02", preflight="identity.mfa_enforced")]))
    assert [control.id for control in catalog] == ["AUTH-01", "AUTH-02"]
    assert catalog["AUTH-02"].preflight == "identity.mfa_enforced"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"titel": "x"}, "control AUTH-01: unknown key 'titel'; allowed keys: id, title"),
        ({"id": "AUTH-1"}, "control #1: bad id 'AUTH-1'; expected FAMILY-NN"),
        ({"id": "auth-01"}, "bad id 'auth-01'"),
        ({"id": "FOO-01"}, "bad id 'FOO-01'"),
        ({"id": DELETE}, "control #1: missing key 'id'"),
        ({"owner": DELETE}, "control AUTH-01: missing key 'owner'"),
        ({"owner": "bob"}, "unknown owner 'bob'; expected one of ['security'"),
        ({"owner": ""}, "owner must be a non-empty string"),
        ({"section": "Identity"}, "unknown section 'Identity'; expected one of ['Identity and authentication'"),
        (
            {"section": "Deployment snapshot"},
            "does not match its checklist line's section 'Identity and authentication'",
        ),
        ({"severity": "critical"}, "unknown severity 'critical'; expected one of ['blocking', 'warning']"),
        ({"status": "done"}, "unknown status 'done'"),
        ({"checklist": "Mandate MFA."}, "checklist text 'Mandate MFA.'... is not a line of checklist.md"),
        ({"checklist": "- " + BASE_CONTROL["checklist"]}, "without its leading '- '"),
        ({"applies_when": ""}, "applies_when must be a non-empty string"),
        ({"applies_when": "tenancy == 'poled'"}, "cannot parse applies_when \"tenancy == 'poled'\": 'poled' is not"),
        ({"applies_when": "billing =="}, "cannot parse applies_when 'billing =='"),
        ({"applies_when": "tenancy"}, "'tenancy' is a choice, not a yes/no fact"),
        ({"applies_when": "__import__('os')"}, "unknown name '__import__'"),
        ({"applies_when": "billing and"}, "expected a fact, a comparison, 'always' or '(' but the expression ended"),
        ({"applies_when": "(billing"}, "expected ')' but the expression ended"),
        ({"applies_when": "billing; rm"}, "unexpected character ';'"),
        ({"title": "Require MFA."}, "must be a short imperative"),
        ({"title": "x" * 81}, "at most 80 characters"),
        ({"compliance": {"iso27001": ["A.5.1"]}}, "unknown compliance regime 'iso27001'"),
        (
            {"compliance": {"soc2": ["CC 6.1"]}},
            "compliance.soc2 reference 'CC 6.1' is malformed; write it like 'CC6.1'",
        ),
        ({"compliance": {"gdpr": ["Article 32"]}}, "compliance.gdpr reference 'Article 32' is malformed"),
        ({"compliance": {"hipaa": ["164.312"]}}, "compliance.hipaa reference '164.312' is malformed"),
        ({"compliance": {"soc2": []}}, "compliance.soc2 must be a non-empty list"),
        ({"compliance": ["soc2"]}, "compliance must be a mapping"),
        ({"status": "implemented"}, "an implemented control needs implemented_in and proven_by"),
        ({"implemented_in": ["src/{package}/x.py"]}, "a planned control has empty implemented_in and proven_by"),
        (
            {"status": "implemented", "implemented_in": ["/etc/passwd"], "proven_by": ["tests/test_a.py::test_b"]},
            "implemented_in '/etc/passwd' must be a normalised path relative to the project root",
        ),
        (
            {"status": "implemented", "implemented_in": ["../x.py"], "proven_by": ["tests/test_a.py::test_b"]},
            "implemented_in '../x.py' must be a normalised path",
        ),
        (
            {"status": "implemented", "implemented_in": ["src/{pkg}/x.py"], "proven_by": ["tests/test_a.py::test_b"]},
            "may only use the {package} placeholder",
        ),
        (
            {"status": "implemented", "implemented_in": ["src/x.py"], "proven_by": ["tests/test_a.py"]},
            "proven_by 'tests/test_a.py' must be a test id like tests/test_x.py::test_name",
        ),
        ({"implemented_in": "src/x.py"}, "implemented_in must be a list of non-empty strings"),
        ({"preflight": "Has Spaces"}, "preflight must be null or a check id"),
    ],
)
def test_loader_rejects_a_malformed_control(tmp_path: Path, changes: dict[str, Any], fragment: str) -> None:
    path = _write(tmp_path, [_control(**changes)])
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")


def test_loader_rejects_a_duplicate_id(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"control #2: duplicate id 'AUTH-01'"):
        load_catalog(_write(tmp_path, [_control(), _control(title="Require MFA again")]))


def test_loader_rejects_reusing_a_retired_id(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"id 'AUTH-01' is retired and never reused"):
        load_catalog(_write(tmp_path, [_control()], retired=["AUTH-01"]))


def test_loader_rejects_a_duplicate_yaml_key(tmp_path: Path) -> None:
    path = _write(tmp_path, [_control()])
    text = path.read_text(encoding="utf-8").replace("  title:", "  title: Shadowed\n  title:", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=r"duplicate key 'title'"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("controls: [\n", "not valid YAML"),
        ("- just a list\n", "must be a mapping with keys version, retired, controls"),
        ("version: 1\ncontrols: []\n", "controls must be a non-empty list"),
        ("version: 2\ncontrols: [{}]\n", "version must be 1, not 2"),
        ("version: 1\nextra: 1\ncontrols: [{}]\n", "unknown top-level key 'extra'"),
        ("version: 1\nretired: [AUTH-1]\ncontrols: [{}]\n", "retired must be a list of control ids"),
        ("version: 1\ncontrols: [just text]\n", "control #1: must be a mapping"),
    ],
)
def test_loader_rejects_a_malformed_document(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=re.escape(fragment)):
        load_catalog(path)


def test_a_missing_catalog_file_is_a_catalog_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read the controls catalog"):
        load_catalog(tmp_path / "absent.yaml")


def test_catalog_errors_belong_to_the_package_error_tree() -> None:
    assert issubclass(CatalogError, SecureScaffoldError)
    assert issubclass(CatalogError, ValueError)
    assert issubclass(AnswersError, SecureScaffoldError)


def test_checklist_without_bullets_is_refused() -> None:
    with pytest.raises(CatalogError, match="no requirement lines"):
        parse_checklist("Title\nJust prose.\n")


# ------------------------------------------------------------------ applies_when


def test_no_billing_means_no_payment_controls() -> None:
    applicable = CATALOG.applicable(_answers(payment_provider="none"))
    assert _ids(applicable, "PAY") == set()
    assert "MON-04" not in _ids(applicable)
    assert _ids(CATALOG.applicable(_answers(payment_provider="paddle")), "PAY") == _ids(list(CATALOG), "PAY")


def test_single_tenancy_drops_the_tenant_isolation_controls() -> None:
    single = _ids(CATALOG.applicable(_answers(tenancy="single", ai_features=True)))
    assert {"DATA-03", "DATA-08", "AI-04"}.isdisjoint(single)
    assert "AI-01" in single


@pytest.mark.parametrize(
    ("tenancy", "row_level_security", "per_tenant_keys"),
    [("pooled", True, True), ("schema", False, True), ("silo", False, True), ("single", False, False)],
)
def test_tenancy_models_select_their_isolation_controls(
    tenancy: str, row_level_security: bool, per_tenant_keys: bool
) -> None:
    applicable = _ids(CATALOG.applicable(_answers(tenancy=tenancy)))
    assert ("DATA-08" in applicable) is row_level_security
    assert ("DATA-03" in applicable) is per_tenant_keys


def test_ai_controls_apply_only_with_ai_features() -> None:
    without = CATALOG.applicable(_answers(ai_features=False))
    with_ai = CATALOG.applicable(_answers(ai_features=True))
    assert _ids(without, "AI") == set()
    assert "AUTH-12" not in _ids(without)
    assert _ids(with_ai, "AI") == _ids(list(CATALOG), "AI")


def test_always_controls_apply_to_every_project() -> None:
    always = {control.id for control in CATALOG if control.applies_when == "always"}
    minimal = _answers(payment_provider="none", tenancy="single", ai_features=False)
    assert always <= _ids(CATALOG.applicable(minimal))


@pytest.mark.parametrize(
    ("source", "answers", "expected"),
    [
        ("always", {}, True),
        ("billing", {"payment_provider": "none"}, False),
        ("not billing", {"payment_provider": "none"}, True),
        ("tenancy != 'single'", {"tenancy": "silo"}, True),
        ('tenancy == "pooled"', {"tenancy": "silo"}, False),
        ("ai_features and multi_tenant", {"ai_features": True, "tenancy": "single"}, False),
        ("ai_features or multi_tenant", {"ai_features": False, "tenancy": "schema"}, True),
        # `and` binds tighter than `or`: true because the left side is.
        ("multi_tenant or ai_features and billing", {"tenancy": "pooled", "ai_features": False}, True),
        ("(multi_tenant or ai_features) and billing", {"tenancy": "pooled", "payment_provider": "none"}, False),
        ("not not (idp == 'keycloak')", {"idp": "keycloak"}, True),
    ],
)
def test_conditions_evaluate_by_the_grammar(source: str, answers: dict[str, Any], expected: bool) -> None:
    assert parse_condition(source).evaluate(AnswerView(answers)) is expected


def test_unknown_question_value_in_a_condition_is_a_syntax_error() -> None:
    with pytest.raises(ConditionError, match=r"'poled' is not a choice of tenancy; expected one of \['single'"):
        parse_condition("tenancy == 'poled'")


@pytest.mark.parametrize(
    ("answers", "fragment"),
    [
        ({key: value for key, value in DEFAULTS.items() if key != "tenancy"}, "the answers have no 'tenancy'"),
        (_answers(tenancy="cluster"), "answer tenancy='cluster' is not one of ['single', 'pooled'"),
        (_answers(ai_features="yes"), "answer ai_features='yes' must be true or false"),
    ],
)
def test_applicable_refuses_answers_it_cannot_decide_on(answers: dict[str, Any], fragment: str) -> None:
    with pytest.raises(AnswersError, match=re.escape(fragment)):
        CATALOG.applicable(answers)


# ------------------------------------------------------------------ the model


def test_controls_are_frozen_and_found_by_id() -> None:
    control = CATALOG["DEPLOY-08"]
    assert control.family == "DEPLOY"
    with pytest.raises(dataclasses.FrozenInstanceError):
        control.status = "planned"  # type: ignore[misc]
    assert CATALOG.get("NOPE-01") is None
    with pytest.raises(KeyError, match="no control 'NOPE-01'"):
        CATALOG["NOPE-01"]


def test_planned_controls_claim_no_code_and_implemented_ones_claim_both() -> None:
    for control in CATALOG:
        if control.status == "planned":
            assert (control.implemented_in, control.proven_by) == ((), ()), control.id
        else:
            assert control.implemented_in, control.id
            assert control.proven_by, control.id


# ------------------------------------------------------------------ rendering


def test_docs_controls_md_is_generated_from_the_catalog() -> None:
    docs = (REPO / "docs" / "controls.md").read_text(encoding="utf-8")
    assert docs == render_markdown(load_catalog()), "regenerate: secure-scaffold controls --format markdown"


def test_markdown_lists_every_control_once_with_its_section() -> None:
    markdown = render_markdown(CATALOG)
    assert "secure-scaffold controls --format markdown > docs/controls.md" in markdown.splitlines()[2]
    for control in CATALOG:
        assert markdown.count(f"| {control.id} |") == 1, control.id
    for section in CATALOG.sections:
        assert f"\n## {section}\n" in markdown


def test_markdown_for_answers_keeps_what_applies_and_resolves_the_package() -> None:
    markdown = render_markdown(CATALOG, _answers(payment_provider="none", package_name="acme_app"))
    assert "| PAY-" not in markdown
    assert "## Payments, billing, and invoicing" not in markdown
    assert "`src/acme_app/db/runtime_role.py`" in markdown
    assert "{package}" not in markdown.split("How to read the tables:")[1].split("\n## ", 1)[1]
    assert "SOC 2 CC6.1" in markdown
    assert "HIPAA" not in markdown.split("\n## ", 1)[1], "only the selected compliance regimes are shown"


def test_text_table_has_a_row_per_control_and_a_summary() -> None:
    table = render_text_table(CATALOG)
    rows = [line for line in table.splitlines() if ID_PATTERN.match(line.split(" ", 1)[0])]
    assert [row.split()[0] for row in rows] == [control.id for control in CATALOG]
    implemented = len(IMPLEMENTED)
    assert table.splitlines()[-1].endswith(f"{implemented} implemented, {len(CATALOG) - implemented} planned")
    assert not table.endswith("\n")


def test_json_is_serialisable_and_complete() -> None:
    exported = catalog_as_json(CATALOG)
    assert json.loads(json.dumps(exported)) == exported
    assert [item["id"] for item in exported] == [control.id for control in CATALOG]
    assert list(exported[0]) == [
        "id", "title", "section", "checklist", "severity", "owner", "applies_when",
        "compliance", "status", "implemented_in", "proven_by", "preflight",
    ]  # fmt: skip
    filtered = catalog_as_json(CATALOG, _answers(ai_features=False))
    assert not any(item["id"].startswith("AI-") for item in filtered)


# ------------------------------------------------------------------ implemented means generated and tested

ProjectFor = Callable[[Control], tuple[Path, Mapping[str, Any]]]


@pytest.fixture(scope="module")
def opa(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default answers with OPA as the policy engine: the only variant the OPA-only controls apply to."""
    return _breakable.render(template_snapshot, tmp_path_factory.mktemp("opa") / "project", policy_engine="opa")


@pytest.fixture(scope="module")
def project_for(pristine: Path, full: Path, opa: Path) -> ProjectFor:
    """The default project or, when the control does not apply to it, the full-featured one (conftest), or OPA's.

    All are rendered from `template_snapshot`, this working tree's copier.yml + template/,
    so uncommitted template changes are what gets checked.
    """
    projects = [
        (path, yaml.safe_load((path / ".copier-answers.yml").read_text(encoding="utf-8")))
        for path in (pristine, full, opa)
    ]

    def pick(control: Control) -> tuple[Path, Mapping[str, Any]]:
        for path, answers in projects:
            if control.applies_to(answers):
                return path, answers
        raise AssertionError(f"{control.id} applies to no rendered project; add answers it applies to")

    return pick


def _test_functions(path: Path) -> set[str]:
    """`name` and `Class::name` of every test function in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return found


def _missing_tests(project: Path, test_ids: tuple[str, ...]) -> list[str]:
    missing = []
    for test_id in test_ids:
        file_name, function = test_id.split("::", 1)
        path = project / file_name
        if not path.is_file() or function not in _test_functions(path):
            missing.append(test_id)
    return missing


def test_at_least_the_skeleton_controls_are_implemented() -> None:
    assert {"AUTH-10", "DATA-04", "DATA-07", "DEPLOY-05", "DEPLOY-08"} <= _ids(IMPLEMENTED)


@pytest.mark.parametrize("control", IMPLEMENTED, ids=lambda control: control.id)
def test_implemented_control_paths_exist_in_a_generated_project(control: Control, project_for: ProjectFor) -> None:
    project, answers = project_for(control)
    missing = [path for path in control.paths_for(str(answers["package_name"])) if not (project / path).is_file()]
    assert missing == [], f"{control.id} claims files a generated project does not have"


@pytest.mark.parametrize("control", IMPLEMENTED, ids=lambda control: control.id)
def test_implemented_control_tests_exist_in_a_generated_project(control: Control, project_for: ProjectFor) -> None:
    project, _ = project_for(control)
    assert _missing_tests(project, control.proven_by) == [], f"{control.id} cites tests that do not exist"


def test_the_test_finder_reports_a_test_that_does_not_exist(project_for: ProjectFor) -> None:
    project, _ = project_for(IMPLEMENTED[0])
    real = IMPLEMENTED[0].proven_by[0]
    file_name = real.split("::", 1)[0]
    assert _missing_tests(project, (real,)) == []
    assert _missing_tests(project, (f"{file_name}::test_no_such_test", "tests/test_nowhere.py::test_x")) == [
        f"{file_name}::test_no_such_test",
        "tests/test_nowhere.py::test_x",
    ]
