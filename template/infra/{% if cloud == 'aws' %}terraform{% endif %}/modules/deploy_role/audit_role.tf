# The audit role: the nightly permission-drift job assumes it, in the audit environment (no
# reviewers: it runs every night). Read-only: it may start the drift task (a fixed command; it
# registers no task definition), pass that task's two roles, and read the drift task's log stream.
# ecs:RunTask accepts containerOverrides and IAM has no condition key to refuse them: the holder of
# this role CAN run another command of the deployed image with the drift task's roles. The scripts
# never send overrides for it, and account_baseline/run_task_overrides.tf alarms when this role does.
# It cannot run the migrations task or roll the service.

resource "aws_iam_role" "audit" {
  name                 = "${var.name}-github-audit"
  max_session_duration = 3600
  # Bound like the deploy role: the nightly workflow, on the protected branch, in the audit environment.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = "repository_owner_id:${var.github_repository_owner_id}:repository_id:${var.github_repository_id}:repo:${var.github_repository}:environment:${var.audit_github_environment}:ref:${var.github_ref}:job_workflow_ref:${var.github_repository}/${var.audit_github_workflow}@${var.github_ref}"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "audit" {
  name = "run-the-drift-check-read-only"
  role = aws_iam_role.audit.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # AWS-REQUIRED-WILDCARD: ecs:DescribeTaskDefinition does not support resource-level permissions.
        Sid      = "DescribeTaskDefinitions"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTaskDefinition"]
        Resource = "*"
      },
      {
        # The drift task runs only if its revision is Terraform's but for the image (runtime/release_record.tf).
        Sid      = "ReadTerraformsRevisionRecord"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameterHistory"]
        Resource = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/ecs-release/${var.audit_task_family}/terraform-revision"]
      },
      {
        Sid       = "ReadThisServicesNetworkConfiguration"
        Effect    = "Allow"
        Action    = ["ecs:DescribeServices"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:service/${local.cluster_name}/${var.service_name}"]
        Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
      },
      {
        Sid       = "RunTheDriftTaskOnly"
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.audit_task_family}:*"]
        Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
      },
      {
        Sid       = "WatchTasksOfThisCluster"
        Effect    = "Allow"
        Action    = ["ecs:DescribeTasks"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.cluster_name}/*"]
        Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
      },
      {
        Sid       = "PassOnlyTheDriftTaskRoles"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = var.audit_pass_role_arns
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
      {
        Sid      = "ReadTheDriftLog"
        Effect   = "Allow"
        Action   = ["logs:GetLogEvents"]
        Resource = ["${var.task_log_group_arn}:log-stream:drift/*"]
      },
    ]
  })
}
