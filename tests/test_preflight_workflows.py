"""Preflight's CI/CD supply-chain checks: a generated project passes each; each break fails with its control.

DEPLOY-01 pinned actions and hash-locked dependencies, DEPLOY-02/03 the release's
SBOM, signatures and provenance, DEPLOY-03/04 least privilege and zizmor,
DEPLOY-04/10/11 the deploy gates, DEPLOY-10 actionlint.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import copier
import pytest

import _supply_chain_tools as tools
from secure_scaffold.preflight import Status, run_preflight

SUPPLY_CHAIN = ["DEPLOY-01", "DEPLOY-02", "DEPLOY-03", "DEPLOY-04", "DEPLOY-10", "DEPLOY-11"]
CHECKS = (
    "workflows.present",
    "workflows.actions_pinned",
    "workflows.least_privilege",
    "workflows.zizmor",
    "workflows.actionlint",
    "workflows.deploy_gates",
    "supplychain.locked_dependencies",
    "supplychain.sbom_and_signing",
    "deploy.verified_from_main",
    "deploy.one_verified_digest",
    "release.sbom_tool_pinned",
)


@pytest.fixture
def scanners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_SCAFFOLD_ZIZMOR", tools.zizmor())
    monkeypatch.setenv("SECURE_SCAFFOLD_ACTIONLINT", tools.actionlint())


@pytest.fixture(scope="module")
def rendered(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rendered project per module; each test breaks its own copy."""
    destination = tmp_path_factory.mktemp("preflight-workflows") / "project"
    copier.run_copy(str(template_snapshot), destination, defaults=True, quiet=True, unsafe=False)
    return destination


@pytest.fixture
def project(rendered: Path, tmp_path: Path, scanners) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(rendered, copy, symlinks=True)
    return copy


def _outcomes(report) -> dict[str, Status]:
    return {check.check: check.outcome.status for result in report.results for check in result.checks}


def _control(report, control_id: str):
    return next(result for result in report.results if result.control_id == control_id)


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _workflow(project: Path, name: str) -> Path:
    return project / ".github" / "workflows" / name


def test_a_generated_project_passes_every_supply_chain_check(project: Path) -> None:
    report = run_preflight(project, only=SUPPLY_CHAIN)
    outcomes = _outcomes(report)
    for name in CHECKS:
        assert outcomes[name] is Status.PASSED, (name, [r.findings for r in report.results])
    assert {result.control_id: result.status for result in report.results} == dict.fromkeys(SUPPLY_CHAIN, Status.PASSED)


def test_an_unpinned_action_fails_deploy_01(project: Path) -> None:
    ci = _workflow(project, "ci.yml")
    _edit(ci, "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0", "actions/checkout@v5")
    report = run_preflight(project, only=["DEPLOY-01"])
    assert _outcomes(report)["workflows.actions_pinned"] is Status.FAILED
    finding = _control(report, "DEPLOY-01").findings[0]
    assert (finding.message, finding.path) == (
        "actions/checkout@v5 is not pinned to a commit SHA",
        str(Path(".github/workflows/ci.yml")),
    )
    assert finding.line is not None
    assert "DEPLOY-01" in [result.control_id for result in report.blocking_failures]


def test_a_sha_without_its_version_comment_fails_deploy_01(project: Path) -> None:
    _edit(
        _workflow(project, "scorecard.yml"),
        "4eaacf0543bb3f2c246792bd56e8cdeffafb205a # v2.4.3",
        "4eaacf0543bb3f2c246792bd56e8cdeffafb205a",
    )
    report = run_preflight(project, only=["DEPLOY-01"])
    assert [f.message for f in _control(report, "DEPLOY-01").findings] == [
        "ossf/scorecard-action@4eaacf0543bb3f2c246792bd56e8cdeffafb205a has no version comment"
    ]


def test_write_all_permissions_fail_deploy_03_and_04(project: Path) -> None:
    _edit(_workflow(project, "ci.yml"), "permissions: {}\n", "permissions: write-all\n")
    report = run_preflight(project, only=["DEPLOY-03", "DEPLOY-04"])
    assert _outcomes(report)["workflows.least_privilege"] is Status.FAILED
    for control in ("DEPLOY-03", "DEPLOY-04"):
        messages = [finding.message for finding in _control(report, control).findings]
        assert "top-level permissions grant write access: write-all" in messages


def test_pull_request_target_with_checkout_fails_least_privilege(project: Path) -> None:
    _edit(_workflow(project, "ci.yml"), "  pull_request:\n", "  pull_request_target:\n")
    report = run_preflight(project, only=["DEPLOY-03"])
    assert _outcomes(report)["workflows.least_privilege"] is Status.FAILED
    assert any("pull_request_target with a checkout" in f.message for f in _control(report, "DEPLOY-03").findings)


def test_a_checkout_that_keeps_its_credentials_fails_least_privilege(project: Path) -> None:
    _edit(_workflow(project, "release.yml"), "persist-credentials: false", "persist-credentials: true")
    report = run_preflight(project, only=["DEPLOY-03"])
    assert [f.message for f in _control(report, "DEPLOY-03").findings if "checkout" in f.message] == [
        "job build: checkout leaves the token in .git/config"
    ]


def test_stored_aws_keys_fail_least_privilege(project: Path) -> None:
    _edit(
        _workflow(project, "deploy.yml"),
        "          role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}\n",
        "          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n",
    )
    report = run_preflight(project, only=["DEPLOY-04"])
    assert any("long-lived AWS keys" in f.message for f in _control(report, "DEPLOY-04").findings)


def test_removing_the_preflight_need_fails_deploy_10(project: Path) -> None:
    deploy = _workflow(project, "deploy.yml")
    _edit(deploy, "needs: [preflight, verify, migrate]", "needs: [verify, migrate]")
    _edit(deploy, "needs: [preflight, verify]", "needs: [verify]")
    report = run_preflight(project, only=["DEPLOY-10"])
    assert _outcomes(report)["workflows.deploy_gates"] is Status.FAILED
    assert sorted(f.message for f in _control(report, "DEPLOY-10").findings) == [
        "job deploy (production) does not need the preflight gate",
        "job migrate (production-migrations) does not need the preflight gate",
    ]


def test_a_deploy_without_signature_verification_fails_deploy_04(project: Path) -> None:
    _edit(_workflow(project, "verify-release.yml"), 'cosign verify "$image"', 'echo skipped "$image"', count=-1)
    report = run_preflight(project, only=["DEPLOY-04"])
    messages = [f.message for f in _control(report, "DEPLOY-04").findings]
    assert "job deploy (production) does not need cosign signature verification" in messages


def test_migrations_outside_the_approval_environment_fail_deploy_11(project: Path) -> None:
    _edit(_workflow(project, "deploy.yml"), "      name: production-migrations\n", "      name: staging\n")
    report = run_preflight(project, only=["DEPLOY-11"])
    assert [f.message for f in _control(report, "DEPLOY-11").findings] == [
        "job migrate runs migrations outside the `production-migrations` environment"
    ]


def test_a_deleted_hash_fails_deploy_01(project: Path) -> None:
    lock = project / "requirements.lock"
    text = lock.read_text(encoding="utf-8")
    block = re.search(r"^fastapi==\S+ \\\n(    --hash=sha256:[0-9a-f]{64}( \\)?\n)+", text, flags=re.MULTILINE)
    assert block
    lock.write_text(text.replace(block.group(0), block.group(0).split(" \\\n", 1)[0] + "\n"), encoding="utf-8")
    report = run_preflight(project, only=["DEPLOY-01"])
    assert _outcomes(report)["supplychain.locked_dependencies"] is Status.FAILED
    assert [f.message for f in _control(report, "DEPLOY-01").findings] == ["fastapi has no --hash in requirements.lock"]


def test_a_pin_missing_from_the_lock_fails_deploy_01(project: Path) -> None:
    _edit(project / "pyproject.toml", '"fastapi==', '"fastapi==9.9.9", "fastapi-was==')
    report = run_preflight(project, only=["DEPLOY-01"])
    assert any(
        f.message.startswith("fastapi==9.9.9 is pinned but requirements.lock has")
        for f in _control(report, "DEPLOY-01").findings
    )


def test_an_unhashed_pip_install_fails_deploy_01(project: Path) -> None:
    _edit(
        _workflow(project, "ci.yml"),
        "pip install --require-hashes -r requirements.lock",
        "pip install -r requirements.lock",
    )
    report = run_preflight(project, only=["DEPLOY-01"])
    assert any(f.message == "pip install without hash checking" for f in _control(report, "DEPLOY-01").findings)


def test_a_release_without_provenance_fails_deploy_03(project: Path) -> None:
    release = _workflow(project, "release.yml")
    text = release.read_text(encoding="utf-8")
    text = re.sub(r"      - name: Attest build provenance.*?\n(?=      - name: )", "", text, flags=re.DOTALL)
    release.write_text(text, encoding="utf-8")
    assert "attest-build-provenance" not in text
    report = run_preflight(project, only=["DEPLOY-03"])
    assert "no build provenance is attested" in [f.message for f in _control(report, "DEPLOY-03").findings]


def test_a_release_without_sbom_fails_deploy_02(project: Path) -> None:
    release = _workflow(project, "release.yml")
    _edit(release, "cyclonedx-py environment", "echo no-sbom")
    _edit(release, '/bin/syft" scan', '/bin/echo" scan')
    report = run_preflight(project, only=["DEPLOY-02"])
    assert [f.message for f in _control(report, "DEPLOY-02").findings] == ["no CycloneDX SBOM is generated"]


def test_an_injectable_run_step_fails_zizmor(project: Path) -> None:
    _edit(
        _workflow(project, "ci.yml"),
        "run: .venv/bin/python -m pytest -ra",
        'run: echo "${{ github.event.pull_request.title }}"',
    )
    report = run_preflight(project, only=["DEPLOY-04"])
    assert _outcomes(report)["workflows.zizmor"] is Status.FAILED
    assert any(f.message.startswith("zizmor template-injection") for f in _control(report, "DEPLOY-04").findings)


def test_an_invalid_job_graph_fails_actionlint(project: Path) -> None:
    _edit(_workflow(project, "deploy.yml"), "needs: [preflight, verify, migrate]", "needs: [preflight, verify, migrat]")
    report = run_preflight(project, only=["DEPLOY-10"])
    assert _outcomes(report)["workflows.actionlint"] is Status.FAILED
    assert any(
        "migrat" in f.message and f.path == ".github/workflows/deploy.yml"
        for f in _control(report, "DEPLOY-10").findings
    )


def test_a_missing_scanner_is_unknown_never_passed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_SCAFFOLD_ZIZMOR", str(project / "no-zizmor-here"))
    monkeypatch.setenv("SECURE_SCAFFOLD_ACTIONLINT", str(project / "no-actionlint-here"))
    report = run_preflight(project, only=["DEPLOY-04", "DEPLOY-10"])
    outcomes = _outcomes(report)
    assert (outcomes["workflows.zizmor"], outcomes["workflows.actionlint"]) == (Status.UNKNOWN, Status.UNKNOWN)
    assert _control(report, "DEPLOY-04").status is Status.UNKNOWN


def test_a_repository_without_workflows_reports_one_root_cause(tmp_path: Path, scanners) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    report = run_preflight(tmp_path, only=["DEPLOY-04", "DEPLOY-10", "DEPLOY-11"])
    outcomes = _outcomes(report)
    assert outcomes["workflows.present"] is Status.FAILED
    for name in ("workflows.least_privilege", "workflows.zizmor", "workflows.actionlint", "workflows.deploy_gates"):
        assert outcomes[name] is Status.SKIPPED, name


# ------------------------------------------------------------------ the release path (issue 18)


def _findings(project: Path, control: str, check: str) -> list[str]:
    """The findings of one check (other checks of the control may fail too)."""
    report = run_preflight(project, only=[control])
    (outcome,) = [c.outcome for r in report.results for c in r.checks if c.check == check]
    assert outcome.status is Status.FAILED, check
    return [f.message for f in outcome.findings]


def test_a_deploy_job_runnable_from_any_branch_fails_deploy_04(project: Path) -> None:
    deploy = _workflow(project, "deploy.yml")
    _edit(
        deploy,
        "    needs: [preflight, verify, migrate]\n    if: github.ref == 'refs/heads/main'\n",
        "    needs: [preflight, verify, migrate]\n",
    )
    assert _findings(project, "DEPLOY-04", "deploy.verified_from_main") == [
        "job deploy runs when the workflow is dispatched on any branch or tag"
    ]


def test_a_deploy_running_the_tags_scripts_fails_deploy_04(project: Path) -> None:
    _edit(_workflow(project, "deploy.yml"), "ref: ${{ github.sha }}", "ref: refs/tags/${{ inputs.version }}")
    assert _findings(project, "DEPLOY-04", "deploy.verified_from_main") == [
        "job migrate checks out the ref being deployed (refs/tags/${{ inputs.version }}) and runs its scripts"
    ]


def test_a_verifier_that_does_not_bind_the_commit_fails_deploy_04(project: Path) -> None:
    verifier = _workflow(project, "verify-release.yml")
    _edit(verifier, '            --certificate-github-workflow-sha "$SOURCE_SHA"\n', "", count=-1)
    _edit(verifier, 'if ! git merge-base --is-ancestor "$sha" refs/remotes/origin/main; then', "if false; then")
    assert sorted(_findings(project, "DEPLOY-04", "deploy.verified_from_main")) == [
        "cosign verify does not bind the signature to the tag's commit (--certificate-github-workflow-sha missing)",
        "nothing checks that the released commit is on main (reviewed code)",
    ]


def test_a_verification_that_ignores_its_failure_fails_deploy_04(project: Path) -> None:
    """B2 (red team): `cosign verify ... || true` and continue-on-error verify nothing."""
    verifier = _workflow(project, "verify-release.yml")
    _edit(
        verifier,
        'cosign verify "$image" "${source[@]}" > /dev/null\n',
        'cosign verify "$image" "${source[@]}" > /dev/null || true\n',
    )
    assert _findings(project, "DEPLOY-04", "deploy.verified_from_main") == [
        "verification step `cosign verify (this repository's release workflow, this tag, this commit)` ignores a "
        "failure (|| true)"
    ]


def test_a_verification_step_that_continues_on_error_fails_deploy_04(project: Path) -> None:
    verifier = _workflow(project, "verify-release.yml")
    _edit(
        verifier,
        "      - name: cosign verify (this repository's release workflow, this tag, this commit)\n",
        "      - name: cosign verify (this repository's release workflow, this tag, this commit)\n"
        "        continue-on-error: true\n",
    )
    assert _findings(project, "DEPLOY-04", "deploy.verified_from_main") == [
        "verification step `cosign verify (this repository's release workflow, this tag, this commit)` has "
        "continue-on-error: a failed verification deploys anyway"
    ]


def test_a_deploy_of_a_digest_the_verifier_did_not_output_fails_deploy_04(project: Path) -> None:
    """B2 (red team): the deploy job must roll out needs.<verifier>.outputs.image, not an input it was given."""
    deploy = _workflow(project, "deploy.yml")
    text = deploy.read_text(encoding="utf-8")
    verified = "IMAGE: ${{ needs.verify.outputs.image }}"
    last = text.rindex(verified)
    deploy.write_text(
        text[:last] + "IMAGE: ${{ vars.ECR_REPOSITORY_URL }}@${{ inputs.version }}" + text[last + len(verified) :],
        encoding="utf-8",
    )
    assert _findings(project, "DEPLOY-04", "deploy.verified_from_main") == [
        "job deploy releases ${{ vars.ECR_REPOSITORY_URL }}@${{ inputs.version }}, not the digest the verifier output"
    ]


def test_a_verifier_inlined_in_deploy_yml_fails_deploy_04(project: Path) -> None:
    """The dispatcher picks the ref deploy.yml runs from; only a called workflow of main's is main's code."""
    _edit(
        _workflow(project, "deploy.yml"),
        "uses: ./.github/workflows/verify-release.yml",
        "uses: ./.github/workflows/elsewhere.yml",
    )
    assert _findings(project, "DEPLOY-04", "deploy.verified_from_main") == [
        "the deploy does not verify through a reusable workflow of this repository"
    ]


def test_an_sbom_tool_next_to_the_signing_token_fails_deploy_02(project: Path) -> None:
    release = _workflow(project, "release.yml")
    _edit(
        release,
        "      packages: read # pull the image from ghcr.io\n",
        "      packages: read # pull the image from ghcr.io\n      id-token: write\n",
    )
    _edit(release, "syft@v1.51.0", "syft@latest")
    assert sorted(_findings(project, "DEPLOY-02", "release.sbom_tool_pinned")) == [
        "job image-sbom runs an SBOM tool and holds id-token: write (it could sign anything)",
        "syft is not installed at a pinned version",
    ]


def test_an_unhashed_install_of_the_preflight_tool_fails_deploy_01(project: Path) -> None:
    _edit(
        _workflow(project, "ci.yml"),
        "pip install --require-hashes --no-deps -r .github/tools/secure-scaffold.lock",
        'pip install --no-deps "secure-scaffold==0.2.0"',
    )
    report = run_preflight(project, only=["DEPLOY-01"])
    assert [(f.message, f.path) for f in _control(report, "DEPLOY-01").findings] == [
        ("pip install without hash checking", str(Path(".github/workflows/ci.yml")))
    ]


@pytest.mark.parametrize(
    "narrowed",
    [
        "--only AUTH-01",
        "--skip DEPLOY-05 --reason elsewhere",
        "--allow-unknown DEPLOY-10 --reason x",
    ],
)
def test_a_narrowed_preflight_is_no_deploy_gate(project: Path, narrowed: str) -> None:
    """Red-team 14: `--only`/`--skip`/`--allow-unknown` (or a `# --profile` comment) still satisfied the gate."""
    deploy = _workflow(project, "deploy.yml")
    _edit(deploy, 'preflight . "${profile[@]}" --format', f'preflight . "${{profile[@]}}" {narrowed} --format')
    report = run_preflight(project, only=["DEPLOY-10"])
    assert _outcomes(report)["workflows.deploy_gates"] is Status.FAILED
    assert "job deploy (production) does not need the preflight gate" in [
        f.message for f in _control(report, "DEPLOY-10").findings
    ]


def test_a_preflight_whose_failure_is_swallowed_is_no_deploy_gate(project: Path) -> None:
    deploy = _workflow(project, "deploy.yml")
    _edit(deploy, "--evidence preflight-evidence || status=$?", "--evidence preflight-evidence || true")
    report = run_preflight(project, only=["DEPLOY-10"])
    assert _outcomes(report)["workflows.deploy_gates"] is Status.FAILED
