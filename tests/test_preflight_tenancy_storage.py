"""DATA-10, OPS-05, OPS-06: each proof fails when the rule or its negative test is taken away."""

from __future__ import annotations

from pathlib import Path

import pytest

from _breakable import edit, private_copy, render
from secure_scaffold.preflight import Status, run_preflight

PACKAGE = "src/secure_app"
CONTROLS = ["DATA-10", "OPS-05", "OPS-06"]


@pytest.fixture
def project(pristine: Path, tmp_path: Path) -> Path:
    return private_copy(pristine, tmp_path)


def _failed(project: Path, control: str) -> list[str]:
    (result,) = run_preflight(project, only=[control]).results
    assert result.status is Status.FAILED, result.status
    return [finding.message for finding in result.findings]


def test_a_generated_project_proves_all_three(pristine: Path) -> None:
    report = run_preflight(pristine, only=CONTROLS)
    assert {result.control_id: result.status for result in report.results} == dict.fromkeys(CONTROLS, Status.PASSED)


def test_dropping_the_unique_storage_name_fails_data_10(project: Path) -> None:
    edit(project, f"{PACKAGE}/db/migrations/versions/tenancy_0003_tenant_storage_names.py",
         'op.create_unique_constraint("tenants_storage_name_key", "tenants", ["storage_name"])', "pass")  # fmt: skip
    assert "no migration puts a UNIQUE constraint on tenants.storage_name" in _failed(project, "DATA-10")


def test_deleting_the_storage_claim_test_fails_data_10(project: Path) -> None:
    edit(project, "tests/test_tenant_lifecycle.py", "def test_the_registry_refuses_two_tenants_with_one_storage_name",
         "def _was_the_registry_test")  # fmt: skip
    missing = "test_the_registry_refuses_two_tenants_with_one_storage_name() is missing or skipped"
    assert f"the project's negative test {missing}" in _failed(project, "DATA-10")


def test_schema_provisioning_without_the_claim_fails_data_10(template_snapshot: Path, tmp_path: Path) -> None:
    project = render(template_snapshot, tmp_path / "schema", tenancy="schema")
    assert run_preflight(project, only=["DATA-10"]).results[0].status is Status.PASSED
    edit(project, f"{PACKAGE}/tenancy/schemas.py", "registry.claim_storage(", "registry.record_storage(")
    assert "tenancy/schemas.py creates tenant storage without claiming its name first" in _failed(project, "DATA-10")


def test_a_drill_copy_left_open_to_public_fails_ops_05(project: Path) -> None:
    edit(project, f"{PACKAGE}/restore_drill.py", "REVOKE ALL ON DATABASE", "COMMENT ON DATABASE")
    assert "restore_drill.py never revokes PUBLIC's privileges on the copy it restores" in _failed(project, "OPS-05")


def test_purge_that_keeps_drill_copies_fails_ops_06(project: Path) -> None:
    edit(project, f"{PACKAGE}/tenancy/lifecycle.py", "drop_kept_copies(", "list_kept_copies(")
    assert "tenant purge does not drop the kept restore-drill copies" in _failed(project, "OPS-06")
