# GitHub Actions deploys with OIDC: no long-lived AWS keys exist. The role can
# be assumed only by a workflow job of this repository running in this GitHub
# environment, with the STS audience. It may register task definitions and roll
# this ECS service, and read back what the service runs; it cannot push images:
# only the promotion role (promote.tf) writes to ECR, and only the digest the
# main-pinned verifier has just verified. Infrastructure changes go through a
# separate role.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account      = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${local.partition}:iam::${local.account}:oidc-provider/token.actions.githubusercontent.com"
}

# No thumbprint_list: AWS validates GitHub's OIDC certificate against its own trusted CAs.
resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-github-deploy"
  max_session_duration = 3600
  # Trusted: one workflow file, on the protected branch, in one environment, of this repository BY ID
  # (owner and repository ids come first: a re-created or re-registered repository of the same name has
  # other ids). The subject is the repository's customised form (modules/github_repository_controls sets
  # the template): a writer's branch workflow that names the environment carries its own ref and
  # workflow, so it never matches.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = "repository_owner_id:${var.github_repository_owner_id}:repository_id:${var.github_repository_id}:repo:${var.github_repository}:environment:${var.github_environment}:ref:${var.github_ref}:job_workflow_ref:${var.github_repository}/${var.github_workflow}@${var.github_ref}"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "deploy" {
  name = "roll-service"
  role = aws_iam_role.deploy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The promoted digest must be in ECR before anything is registered on it.
        Sid      = "SeeImagesOfThisRepositoryOnly"
        Effect   = "Allow"
        Action   = ["ecr:DescribeImages"]
        Resource = [var.ecr_repository_arn]
      },
      {
        # AWS-REQUIRED-WILDCARD: ecs:RegisterTaskDefinition and ecs:DescribeTaskDefinition do not support resource-level permissions.
        Sid      = "RegisterTaskDefinitions"
        Effect   = "Allow"
        Action   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
        Resource = "*"
      },
      {
        # Every release is built from the revision Terraform registered (runtime/release_record.tf); read, never write.
        Sid      = "ReadTerraformsRevisionRecord"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameterHistory"]
        Resource = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/ecs-release/${var.task_definition_family}/terraform-revision", "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/ecs-release/${var.audit_task_family}/terraform-revision"]
      },
      {
        Sid       = "RollThisServiceOnly"
        Effect    = "Allow"
        Action    = ["ecs:DescribeServices", "ecs:UpdateService"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:service/${element(split("/", var.cluster_arn), 1)}/${var.service_name}"]
        Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
      },
      {
        # After the roll-out, every running task is read back: each container must run the verified digest.
        Sid       = "ReadBackTheRunningTasks"
        Effect    = "Allow"
        Action    = ["ecs:DescribeTasks", "ecs:ListTasks"]
        Resource  = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task/${element(split("/", var.cluster_arn), 1)}/*", "arn:${local.partition}:ecs:${local.region}:${local.account}:container-instance/${element(split("/", var.cluster_arn), 1)}/*"]
        Condition = { ArnEquals = { "ecs:cluster" = var.cluster_arn } }
      },
      {
        Sid       = "PassOnlyTheAppRoles"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = var.pass_role_arns
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
    ]
  })
}
