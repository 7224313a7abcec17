"""The cloud account's own record (MON-05): CloudTrail, GuardDuty and AWS Config.

The app's audit log records what users do in the app; a compromised CI job or task acts on the
AWS APIs with its role, and only the account's trail, threat detection and configuration history
see that. They exist once per account and region, so a project may leave them to the
organisation (a module switched off by a variable is still declared and still checked here).
"""

from __future__ import annotations

from .._model import Finding, Outcome, failed, passed
from .._project import Project
from .._registry import register
from .infra import TERRAFORM_DIR, _nested_blocks, _resources, terraform_files

TRAIL_SETTINGS = {
    "is_multi_region_trail": "calls in other regions go unrecorded",
    "enable_log_file_validation": "a deleted or edited trail file goes unnoticed",
}


@register("infra.account_baseline", controls=("MON-05",), requires=("infra.terraform_present",))
def account_baseline(project: Project) -> Outcome:
    """A multi-region, integrity-validated, KMS-encrypted CloudTrail; GuardDuty; AWS Config recording
    every resource type, with a delivery channel, switched on."""
    files = terraform_files(project)
    root = TERRAFORM_DIR if (project.root / TERRAFORM_DIR).is_dir() else None
    findings = []
    trails = list(_resources(files, "aws_cloudtrail"))
    if not trails:
        findings.append(Finding("no CloudTrail trail records the account's API calls", "add aws_cloudtrail", root))
    for file, block in trails:
        for name, why in TRAIL_SETTINGS.items():
            if block.attributes.get(name) is not True:
                message = f"trail {block.labels[-1]} does not set {name} = true: {why}"
                findings.append(Finding(message, f"set {name} = true", file.relative, block.line))
        if "kms_key_id" not in block.attributes:
            message = f"trail {block.labels[-1]} files are not KMS-encrypted"
            findings.append(Finding(message, "set kms_key_id to the logs key", file.relative, block.line))
    detectors = [block for _, block in _resources(files, "aws_guardduty_detector")]
    if not detectors or all(block.attributes.get("enable") is False for block in detectors):
        findings.append(Finding("GuardDuty is not enabled", "add aws_guardduty_detector with enable = true", root))
    recorders = [
        block
        for _, block in _resources(files, "aws_config_configuration_recorder")
        if any(child.attributes.get("all_supported") is True for child in _nested_blocks(block))
    ]
    channels = list(_resources(files, "aws_config_delivery_channel"))
    switched_on = [
        block
        for _, block in _resources(files, "aws_config_configuration_recorder_status")
        if block.attributes.get("is_enabled") is True
    ]
    if not (recorders and channels and switched_on):
        findings.append(
            Finding(
                "AWS Config does not record every resource type with a delivery channel, switched on",
                "add aws_config_configuration_recorder (recording_group all_supported = true), "
                "aws_config_delivery_channel and aws_config_configuration_recorder_status (is_enabled = true)",
                root,
            )
        )
    if findings:
        return failed(*findings)
    return passed("CloudTrail (all regions, validated, KMS), GuardDuty and AWS Config (all resources) are declared")
