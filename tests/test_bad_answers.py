"""Bad answers are rejected with a clear message, and nothing is written.

Checked through `generate_project` (what `secure-scaffold new` calls) and, for
the validators themselves, through plain copier: a platform team's
`copier copy --data-file` must get the same protection.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from secure_scaffold import generate_project
from secure_scaffold.errors import DestinationNotEmptyError, InvalidAnswerError

LONG = "a" * 200

BAD_ANSWERS = [
    ("project_slug", "../evil", "The slug must be 3-50 characters"),
    ("project_slug", "a/b", "The slug must be 3-50 characters"),
    ("project_slug", "..", "The slug must be 3-50 characters"),
    ("project_slug", "Upper-Case", "The slug must be 3-50 characters"),
    ("project_slug", "double--hyphen", "consecutive hyphens"),
    ("project_slug", LONG, "The slug must be 3-50 characters"),
    ("project_name", "", "must not be empty"),
    ("project_name", "   ", "must not be empty"),
    ("project_name", LONG, "has 200 characters"),
    ("project_name", "{{ 7 * 7 }}", "may contain letters, digits"),
    ("project_name", "{% include '/etc/passwd' %}", "may contain letters, digits"),
    ("project_name", "../../etc", "may contain letters, digits"),
    ("description", "{{ cycler.__init__.__globals__ }}", "no quotes, braces or template syntax"),
    ("description", 'say "hi"', "no quotes, braces or template syntax"),
    ("description", LONG + "a", "has 201 characters; use 200 or fewer"),
    ("org_name", "{# comment #}", "may contain letters, digits"),
    ("org_name", "", "must not be empty"),
    ("package_name", "import", "would shadow a Python keyword"),
    ("package_name", "json", "would shadow a Python keyword"),
    ("package_name", "asyncio", "would shadow a Python keyword"),
    ("package_name", "fastapi", "would shadow a Python keyword"),
    ("package_name", "sqlalchemy", "would shadow a Python keyword"),
    ("package_name", "tests", "would shadow a Python keyword"),
    ("package_name", "my-app", "must be a lowercase Python identifier"),
    ("package_name", "1app", "must be a lowercase Python identifier"),
    ("package_name", "app_", "must be a lowercase Python identifier"),
    ("package_name", "../app", "must be a lowercase Python identifier"),
    ("domain", "https://app.example.com", "must be a lowercase DNS name"),
    ("domain", "app.example.com/../x", "must be a lowercase DNS name"),
    ("domain", "localhost", "must be a lowercase DNS name"),
    ("domain", "a..example.com", "must be a lowercase DNS name"),
    ("domain", "{{domain}}.com", "must be a lowercase DNS name"),
    ("idp", "saml", "Invalid choice for 'idp'"),
    ("tenancy", "multi", "Invalid choice for 'tenancy'"),
    ("payment_provider", "paypal", "Invalid choice for 'payment_provider'"),
    ("framework", "django", "Invalid choice for 'framework'"),
    ("cloud", "gcp", "Invalid choice for 'cloud'"),
    ("ci", "gitlab", "Invalid choice for 'ci'"),
    ("policy_engine", "xacml", "Invalid choice for 'policy_engine'"),
]


@pytest.mark.parametrize(("question", "answer", "message"), BAD_ANSWERS, ids=lambda v: str(v)[:24])
def test_bad_answer_is_rejected_and_nothing_is_written(
    template_snapshot: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    destination = tmp_path / "out"
    with pytest.raises(InvalidAnswerError) as caught:
        generate_project(destination, data={question: answer}, defaults=True, template=template_snapshot, quiet=True)
    assert message in str(caught.value)
    assert question in str(caught.value)
    assert not destination.exists()


@pytest.mark.parametrize(("question", "answer", "message"), BAD_ANSWERS[::4], ids=lambda v: str(v)[:24])
def test_plain_copier_enforces_the_same_validators(
    template_snapshot: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    destination = tmp_path / "out"
    with pytest.raises(ValueError, match=r".") as caught:
        copier.run_copy(str(template_snapshot), destination, data={question: answer}, defaults=True, quiet=True)
    assert message in str(caught.value)
    assert not destination.exists()


def test_unknown_compliance_regime_is_rejected(template_snapshot: Path, tmp_path: Path) -> None:
    destination = tmp_path / "out"
    with pytest.raises(InvalidAnswerError, match="compliance"):
        generate_project(
            destination,
            data={"compliance": ["soc2", "iso27001"]},
            defaults=True,
            template=template_snapshot,
            quiet=True,
        )
    assert not destination.exists()


def test_misspelt_question_is_rejected(template_snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidAnswerError, match="unknown question 'tenacy'"):
        generate_project(tmp_path / "out", data={"tenacy": "pooled"}, defaults=True, template=template_snapshot)
    assert not (tmp_path / "out").exists()


def test_derived_value_cannot_be_set(template_snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidAnswerError, match="derived from other answers"):
        generate_project(tmp_path / "out", data={"idp_roles_claim": "admin"}, defaults=True, template=template_snapshot)


def test_non_empty_destination_is_refused_and_left_alone(template_snapshot: Path, tmp_path: Path) -> None:
    destination = tmp_path / "existing"
    destination.mkdir()
    keep = destination / "notes.txt"
    keep.write_text("mine", encoding="utf-8")
    with pytest.raises(DestinationNotEmptyError, match="exists and is not empty"):
        generate_project(destination, defaults=True, template=template_snapshot)
    assert [path.name for path in destination.iterdir()] == ["notes.txt"]
    assert keep.read_text(encoding="utf-8") == "mine"


def test_empty_existing_destination_is_used(template_snapshot: Path, tmp_path: Path) -> None:
    destination = tmp_path / "empty"
    destination.mkdir()
    generate_project(destination, defaults=True, template=template_snapshot, quiet=True)
    assert (destination / ".copier-answers.yml").is_file()


@pytest.mark.parametrize("typed", ["flase", "maybe", "ture", "2"])
def test_a_mistyped_boolean_is_refused_not_read_as_true(template_snapshot: Path, tmp_path: Path, typed: str) -> None:
    """copier casts any unknown string to True: `ai_features=flase` used to switch the AI features on."""
    destination = tmp_path / "out"
    with pytest.raises(InvalidAnswerError, match=f'ai_features must be true or false .*got "{typed}"'):
        generate_project(destination, data={"ai_features": typed}, defaults=True, template=template_snapshot)
    assert not destination.exists()
    with pytest.raises(ValueError, match="ai_features must be true or false"):
        copier.run_copy(str(template_snapshot), destination, data={"ai_features": typed}, defaults=True, quiet=True)
    assert not destination.exists()


@pytest.mark.parametrize(("typed", "expected"), [("no", False), ("false", False), ("Yes", True), ("1", True)])
def test_copiers_documented_boolean_spellings_still_work(
    template_snapshot: Path, tmp_path: Path, typed: str, expected: bool
) -> None:
    destination = generate_project(
        tmp_path / "out", data={"ai_features": typed}, defaults=True, template=template_snapshot, quiet=True
    )
    assert yaml.safe_load((destination / ".copier-answers.yml").read_text())["ai_features"] is expected


@pytest.mark.parametrize(("typed", "expected"), [("soc2", ["soc2"]), ("soc2, gdpr", ["soc2", "gdpr"])])
def test_one_compliance_regime_on_the_command_line_is_a_one_item_list(
    template_snapshot: Path, tmp_path: Path, typed: str, expected: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "secure_scaffold.cli", "new", str(tmp_path / "out"), "--defaults", "-q",
         "--template", str(template_snapshot), "-d", f"compliance={typed}"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert yaml.safe_load((tmp_path / "out" / ".copier-answers.yml").read_text())["compliance"] == expected


def test_a_mistyped_compliance_value_is_one_clear_line(template_snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidAnswerError):
        generate_project(tmp_path / "out", data={"compliance": 5}, defaults=True, template=template_snapshot)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("billing", False), ("multi_tenant", False), ("idp_mfa_values", "[otp]"), ("idp_mfa_claim", "x")],
)
def test_plain_copier_refuses_a_derived_value(template_snapshot: Path, tmp_path: Path, name: str, value) -> None:
    """`--data billing=false` gave an answers file saying stripe/pooled with no billing code at all."""
    destination = tmp_path / "out"
    with pytest.raises(ValueError, match=f"{name} is derived from the other answers and cannot be set"):
        copier.run_copy(str(template_snapshot), destination, data={name: value}, defaults=True, quiet=True)
    assert not destination.exists()
