# The migrations role: the `migrate` job of the deploy workflow assumes it, in the migrations
# environment (required reviewers: the database owners), to run the migrations task once per
# release. It may run that one task family in this cluster, pass that task's two roles and read
# that task's log stream; it cannot roll the service, run any other task or pass any other role.

locals {
  cluster_name = element(split("/", var.cluster_arn), 1)
}

resource "aws_iam_role" "migrations" {
  name                 = "${var.name}-github-migrations"
  max_session_duration = 3600
  # Bound like the deploy role: the deploy workflow, on the protected branch, in the migrations environment.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = "repository_owner_id:${var.github_repository_owner_id}:repository_id:${var.github_repository_id}:repo:${var.github_repository}:environment:${var.migrations_github_environment}:ref:${var.github_ref}:job_workflow_ref:${var.github_repository}/${var.github_workflow}@${var.github_ref}"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "migrations" {
  name = "run-the-migrations-task"
  role = aws_iam_role.migrations.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # AWS-REQUIRED-WILDCARD: ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition do not support resource-level permissions.
        Sid      = "RegisterTaskDefinitions"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
        Resource = "*"
      },
      {
        # The migrations task is built from the revision Terraform registered (runtime/release_record.tf).
        Sid      = "ReadTerraformsRevisionRecord"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameterHistory"]
        Resource = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/ecs-release/${var.migrations_task_family}/terraform-revision"]
      },
      {
        Sid       = "ReadThisServicesNetworkConfiguration"
        Effect    = "Allow"
        Action    = ["ecs:DescribeServices"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:service/${local.cluster_name}/${var.service_name}"]
        Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
      },
      {
        Sid       = "RunTheMigrationsTaskOnly"
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${var.migrations_task_family}:*"]
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
        Sid       = "PassOnlyTheMigrationsTaskRoles"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = var.migrations_pass_role_arns
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
      {
        Sid      = "ReadTheMigrationsLog"
        Effect   = "Allow"
        Action   = ["logs:GetLogEvents"]
        Resource = ["${var.task_log_group_arn}:log-stream:migrate/*"]
      },
    ]
  })
}
