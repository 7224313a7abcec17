"""copier.yml and options.py describe the same choices (plain copier needs its own copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

from secure_scaffold.options import CHOICE_QUESTIONS, IDPS, RESERVED_PACKAGE_NAMES, available_ids

REPO = Path(__file__).resolve().parents[1]
COPIER = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))


def _choice_ids(question: str) -> list[str]:
    choices = COPIER[question]["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def _derived(name: str, **context: Any) -> Any:
    """Evaluate a question's default the way copier does (sandboxed Jinja, loader at the template root)."""
    environment = SandboxedEnvironment(loader=FileSystemLoader(REPO))
    rendered = environment.from_string(COPIER[name]["default"]).render(**context)
    return yaml.safe_load(rendered) if COPIER[name]["type"] in {"yaml", "bool"} else rendered


@pytest.mark.parametrize("question", list(CHOICE_QUESTIONS))
def test_choices_match_available_options(question: str) -> None:
    assert _choice_ids(question) == available_ids(question)


@pytest.mark.parametrize("question", list(CHOICE_QUESTIONS))
def test_default_is_an_offered_choice(question: str) -> None:
    assert _derived(question, profile={}) in available_ids(question)


@pytest.mark.parametrize("question", list(CHOICE_QUESTIONS))
def test_profile_lock_beats_profile_default_beats_template_default(question: str) -> None:
    first, last = available_ids(question)[0], available_ids(question)[-1]
    assert _derived(question, profile={"defaults": {question: last}}) == last
    assert _derived(question, profile={"defaults": {question: last}, "locked": {question: first}}) == first


def test_no_unavailable_choice_is_offered() -> None:
    offered = {question: set(_choice_ids(question)) for question in CHOICE_QUESTIONS}
    for question, choices in CHOICE_QUESTIONS.items():
        for choice in choices:
            assert (choice.id in offered[question]) == choice.available, (question, choice.id)


def test_compliance_choices_match() -> None:
    from secure_scaffold.options import COMPLIANCE

    assert list(COPIER["compliance"]["choices"].values()) == [c.id for c in COMPLIANCE]
    assert COPIER["compliance"]["multiselect"] is True


@pytest.mark.parametrize("preset", IDPS, ids=lambda preset: preset.id)
def test_idp_derived_values_match_presets(preset) -> None:
    domain = "app.example.com"
    assert _derived("idp_roles_claim", idp=preset.id, domain=domain) == preset.claim(domain, preset.roles_claim)
    assert _derived("idp_tenant_claim", idp=preset.id, domain=domain) == preset.claim(domain, preset.tenant_claim)
    assert _derived("idp_mfa_acr_values", idp=preset.id) == list(preset.mfa_acr_values)
    assert _derived("idp_mfa_source", idp=preset.id) == ("token" if preset.mfa_in_id_token else "token_or_webauthn")
    assert _derived("idp_attribute_prefix", idp=preset.id, domain=domain) == preset.claim(
        domain, preset.attribute_prefix
    )
    assert _derived("idp_bearer_rule", idp=preset.id) == preset.bearer_rule
    assert _derived("idp_api_audience", idp=preset.id, domain=domain) == preset.claim(domain, preset.api_audience)
    assert _derived("idp_issuer_example", idp=preset.id) == preset.issuer_example
    assert _derived("idp_terraform_provider", idp=preset.id) == preset.terraform_provider
    assert COPIER["idp_mfa_claim"]["default"] == preset.mfa_claim


def test_copier_reserves_every_reserved_package_name() -> None:
    """Extras are harmless (a module another Python version ships); a gap is not."""
    in_copier = set(yaml.safe_load(COPIER["reserved_package_names"]["default"]))
    missing = RESERVED_PACKAGE_NAMES - in_copier
    assert not missing, f"add to copier.yml reserved_package_names: {sorted(missing)}"


def test_no_jinja_extensions_or_tasks() -> None:
    """Plain `copier copy` / `copier update` must never need --trust (DESIGN section 2)."""
    assert "_jinja_extensions" not in COPIER
    assert "_tasks" not in COPIER
    assert COPIER["_subdirectory"] == "template"
