# The invoice bucket: the canonical, sealed copy of every invoice PDF.
# Object Lock in COMPLIANCE mode (no one can delete or overwrite a version
# before its retention ends), versioning, SSE-KMS with the project key, all
# public access blocked, TLS-only and KMS-only uploads, access logging.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "invoices" {
  #checkov:skip=CKV_AWS_144:Invoices stay in the primary region (data residency of customer billing records); durability comes from S3's multi-AZ storage plus Object Lock, see docs/operations/rto-rpo.md.
  bucket              = "${var.name}-invoices-${data.aws_caller_identity.current.account_id}"
  object_lock_enabled = true
}

resource "aws_s3_bucket_object_lock_configuration" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.retention_days
    }
  }
}

resource "aws_s3_bucket_versioning" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "invoices" {
  bucket                  = aws_s3_bucket.invoices.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_logging" "invoices" {
  bucket        = aws_s3_bucket.invoices.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/invoices/"
}

resource "aws_s3_bucket_lifecycle_configuration" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
    noncurrent_version_expiration {
      noncurrent_days = var.retention_days + 1
    }
  }
}

resource "aws_s3_bucket_notification" "invoices" {
  bucket      = aws_s3_bucket.invoices.id
  eventbridge = true
}

resource "aws_s3_bucket_policy" "invoices" {
  bucket = aws_s3_bucket.invoices.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.invoices.arn, "${aws_s3_bucket.invoices.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyUploadsNotEncryptedWithTheProjectKey"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.invoices.arn}/*"
        Condition = { StringNotEqualsIfExists = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn } }
      },
      {
        Sid       = "DenyWritesFromAnyoneButTheApp"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = ["s3:PutObject", "s3:PutObjectRetention"]
        Resource  = "${aws_s3_bucket.invoices.arn}/*"
        Condition = { ArnNotEquals = { "aws:PrincipalArn" = var.writer_role_arns } }
      },
    ]
  })
}
