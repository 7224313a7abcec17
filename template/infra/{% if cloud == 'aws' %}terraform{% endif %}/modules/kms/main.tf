# Customer-managed KMS keys with rotation on and least-privilege key policies.
#
# Key policies never name a wildcard principal. Administration is delegated to
# IAM in this account with an explicit list of admin actions (no kms:*), use
# (encrypt/decrypt) is delegated to IAM policies of this account only, and
# AWS services get grants only for AWS resources. In a key policy, Resource
# "*" means "this key" (AWS requires that form); see docs/infrastructure.md.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
  admin_actions = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:TagResource",
    "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
  ]
  use_actions = [
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
  ]
  base_statements = [
    {
      Sid       = "KeyAdministrationThroughIam"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = local.admin_actions
      Resource  = "*"
    },
    {
      Sid       = "KeyUseThroughIamPoliciesOfThisAccount"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = local.use_actions
      Resource  = "*"
      Condition = { StringEquals = { "kms:CallerAccount" = data.aws_caller_identity.current.account_id } }
    },
    {
      Sid       = "GrantsOnlyForAwsResources"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
      Resource  = "*"
      Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
    },
  ]
  logs_statement = {
    Sid       = "CloudWatchLogsOfThisAccount"
    Effect    = "Allow"
    Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
    Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
    Resource  = "*"
    Condition = {
      ArnLike = {
        "kms:EncryptionContext:aws:logs:arn" = [
          for group in ["${var.name}-*", "aws-waf-logs-${var.name}", "/aws/rds/instance/${var.name}/*"] :
          "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${group}"
        ]
      }
    }
  }
  # CloudWatch alarms publish to the encrypted alarm topic (runtime/alarms.tf): this project's alarms only.
  alarms_statement = {
    Sid       = "CloudWatchAlarmsOfThisProject"
    Effect    = "Allow"
    Principal = { Service = "cloudwatch.amazonaws.com" }
    Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = {
      ArnLike = {
        "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*"
      }
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${var.name}: data at rest (RDS, ElastiCache, S3, Secrets Manager, ECR)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = jsonencode({ Version = "2012-10-17", Statement = local.base_statements })
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name}/data"
  target_key_id = aws_kms_key.data.key_id
}

resource "aws_kms_key" "logs" {
  description             = "${var.name}: CloudWatch Logs (application, flow, firewall and WAF logs) and the alarm topic"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy                  = jsonencode({ Version = "2012-10-17", Statement = concat(local.base_statements, [local.logs_statement, local.alarms_statement]) })
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}/logs"
  target_key_id = aws_kms_key.logs.key_id
}
