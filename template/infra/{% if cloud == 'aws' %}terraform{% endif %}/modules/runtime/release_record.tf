# Terraform's record of the task definition revisions it registered, one SSM parameter per family
# (the ARN, an identifier). scripts/ecs_release.py builds every release from THIS revision, never
# from the one the service runs nor the family's latest: the release roles hold
# ecs:RegisterTaskDefinition on `*` (it has no resource-level permissions), so a revision someone
# registered out of band (another entryPoint, environment, secrets or roles) would otherwise be
# carried forward by every deploy, and `ignore_changes = [task_definition]` on the service would keep
# reviewed Terraform changes out of production. The release roles may read these parameters and
# their history (a service on an earlier Terraform revision is not out of band), never write them.

locals {
  terraform_revisions = {
    (aws_ecs_task_definition.app.family)     = aws_ecs_task_definition.app.arn
    (aws_ecs_task_definition.drift.family)   = aws_ecs_task_definition.drift.arn
    (aws_ecs_task_definition.migrate.family) = aws_ecs_task_definition.migrate.arn
  }
}

resource "aws_ssm_parameter" "terraform_revision" {
  #checkov:skip=CKV2_AWS_34:The value is a task definition ARN, an identifier and not a secret (the same ARN is in every describe-services answer); a plain String keeps the release roles free of any KMS grant.
  for_each    = local.terraform_revisions
  name        = "/ecs-release/${each.key}/terraform-revision"
  description = "The ${each.key} revision Terraform registered: scripts/ecs_release.py releases from it."
  type        = "String"
  value       = each.value
}
