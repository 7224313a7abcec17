# Customer-managed KMS keys with rotation on and least-privilege key policies.
#
# Key policies never name a wildcard principal and never let "every principal of the account" use
# a key: the account (IAM) may only administer a key (an explicit action list, no kms:*) and let
# AWS services create grants for AWS resources (RDS, ElastiCache, ECR use their keys that way).
# Encrypting and decrypting is allowed to named roles only -- the app's task role, through Secrets
# Manager and S3 (and, where one key wraps every tenant's data keys, with a tenant
# encryption context); the role that applies this Terraform, through AWS services only; RDS's
# service-linked role, for the master secret; optional break-glass and log-reader roles -- and to
# AWS service principals for this project's resources.
# In a key policy, Resource "*" means "this key" (AWS requires that form); see docs/infrastructure.md.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# The role (not the session) that runs `terraform apply`: it creates the encrypted resources.
data "aws_iam_session_context" "applier" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  account      = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  account_root = "arn:${local.partition}:iam::${local.account}:root"
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
  # The AWS services that encrypt this project's data with the data key on a caller's behalf.
  data_services = [
    for service in ["ecr", "elasticache", "network-firewall", "rds", "s3", "secretsmanager"] :
    "${service}.${local.region}.amazonaws.com"
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
      Sid       = "GrantsOnlyForAwsResources"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
      Resource  = "*"
      Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
    },
  ]
  applier_statement = {
    Sid       = "TheApplierThroughAwsServicesOnly"
    Effect    = "Allow"
    Principal = { AWS = data.aws_iam_session_context.applier.issuer_arn }
    Action    = local.use_actions
    Resource  = "*"
    Condition = { StringEquals = { "kms:ViaService" = local.data_services } }
  }
  app_statement = {
    Sid       = "TheAppThroughSecretsManagerAndS3"
    Effect    = "Allow"
    Principal = { AWS = var.app_role_arns }
    Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = { StringEquals = { "kms:ViaService" = ["secretsmanager.${local.region}.amazonaws.com", "s3.${local.region}.amazonaws.com"] } }
  }
  # RDS keeps and rotates the master password in Secrets Manager under this key, as its service-linked
  # role. Named by condition (the role may not exist before the first database): that role, no other.
  rds_statement = {
    Sid       = "RdsManagesTheMasterSecret"
    Effect    = "Allow"
    Principal = { AWS = local.account_root }
    Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = {
      ArnEquals    = { "aws:PrincipalArn" = "arn:${local.partition}:iam::${local.account}:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS" }
      StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" }
    }
  }
  # One key wraps every tenant's data keys (pooled tenancy on KMS): each wrap must name its tenant.
  tenant_wrap_statements = (
    length(var.tenant_wrap_role_arns) > 0 ? [{
      Sid       = "TenantWrapsBoundToATenantContext"
      Effect    = "Allow"
      Principal = { AWS = var.tenant_wrap_role_arns }
      Action    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      Resource  = "*"
      Condition = {
        "ForAllValues:StringEquals" = { "kms:EncryptionContextKeys" = ["tenant", "purpose", "key_version"] }
        Null                        = { "kms:EncryptionContext:tenant" = "false" }
      }
    }] : []
  )
  break_glass_statements = (
    length(var.master_secret_reader_arns) > 0 ? [{
      Sid       = "BreakGlassReadsTheDatabaseMasterSecret"
      Effect    = "Allow"
      Principal = { AWS = var.master_secret_reader_arns }
      Action    = ["kms:Decrypt", "kms:DescribeKey"]
      Resource  = "*"
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
    }] : []
  )
  log_reader_statements = (
    length(var.log_reader_arns) > 0 ? [{
      Sid       = "SecurityReadsTheCloudTrailFiles"
      Effect    = "Allow"
      Principal = { AWS = var.log_reader_arns }
      Action    = ["kms:Decrypt", "kms:DescribeKey"]
      Resource  = "*"
      Condition = { StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" } }
    }] : []
  )
  logs_statement = {
    Sid       = "CloudWatchLogsOfThisAccount"
    Effect    = "Allow"
    Principal = { Service = "logs.${local.region}.amazonaws.com" }
    Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
    Resource  = "*"
    Condition = {
      ArnLike = {
        "kms:EncryptionContext:aws:logs:arn" = [
          for group in ["${var.name}-*", "aws-waf-logs-${var.name}", "/aws/rds/instance/${var.name}/*"] :
          "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${group}"
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
        "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*"
      }
    }
  }
  # CloudTrail encrypts this project's trail files (modules/account_baseline) and nothing else's.
  cloudtrail_statement = {
    Sid       = "CloudTrailOfThisProject"
    Effect    = "Allow"
    Principal = { Service = "cloudtrail.amazonaws.com" }
    Action    = ["kms:DescribeKey", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = {
      StringEquals = { "aws:SourceArn" = "arn:${local.partition}:cloudtrail:${local.region}:${local.account}:trail/${var.name}" }
      StringLike   = { "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${local.account}:trail/*" }
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${var.name}: data at rest (RDS, ElastiCache, S3, Secrets Manager, ECR)"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.base_statements,
      [local.applier_statement, local.app_statement, local.rds_statement],
      local.tenant_wrap_statements,
      local.break_glass_statements,
    )
  })
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name}/data"
  target_key_id = aws_kms_key.data.key_id
}

resource "aws_kms_key" "logs" {
  description             = "${var.name}: CloudWatch Logs (application, flow, firewall, DNS and WAF logs), CloudTrail and the alarm topic"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.base_statements,
      [local.logs_statement, local.alarms_statement, local.cloudtrail_statement],
      local.log_reader_statements,
    )
  })
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${var.name}/logs"
  target_key_id = aws_kms_key.logs.key_id
}
