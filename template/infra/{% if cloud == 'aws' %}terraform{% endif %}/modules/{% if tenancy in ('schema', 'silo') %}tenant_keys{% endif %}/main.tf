# One customer-managed KMS key per tenant, rotation on. With secrets_backend =
# cloud the app wraps each tenant's data keys with that tenant's key
# (APP_TENANT_KEK = alias/<name>/tenant/{tenant}, envelope encryption), so
# offboarding a tenant can also schedule its key's deletion (crypto-shredding,
# docs/runbooks/tenant-offboarding.md). With secrets_backend = vault the app
# does NOT use these keys: Vault transit's derived key wraps the data keys, and
# offboarding is the purge deleting the tenant's wrapped data keys. Key policies: administration delegated to
# IAM of this account with an explicit action list; use allowed to the named
# app roles only, and only with the key's own tenant as the encryption context
# (so a request that names another tenant is refused by KMS, not by app code);
# "*" as the Resource of a key policy means this key (AWS's required form).

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

resource "aws_kms_key" "tenant" {
  for_each                = var.tenants
  description             = "${var.name}: key-encryption key of tenant ${each.key}"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "KeyAdministrationThroughIam"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action = [
          "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
          "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
          "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:TagResource",
          "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },
      {
        Sid       = "EnvelopeUseByTheAppBoundToThisTenant"
        Effect    = "Allow"
        Principal = { AWS = var.user_role_arns }
        Action    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "kms:EncryptionContext:tenant" = each.key }
        }
      },
    ]
  })
  tags = { Tenant = each.key }
}

resource "aws_kms_alias" "tenant" {
  for_each      = var.tenants
  name          = "alias/${var.name}/tenant/${each.key}"
  target_key_id = aws_kms_key.tenant[each.key].key_id
}
