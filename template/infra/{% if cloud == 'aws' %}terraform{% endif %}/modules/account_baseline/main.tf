# Account-level detection: CloudTrail (every region, management events, file integrity
# validation, KMS-encrypted, into the logging bucket and CloudWatch Logs), GuardDuty, and AWS
# Config recording every resource type. Each exists once per account and region: the stack
# creates this module only with manage_account_baseline = true. Set it false where the
# organisation runs them centrally (an organization trail, a GuardDuty delegated administrator,
# a Config aggregator) or where another environment of the same account already created them.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
}

# ---------------------------------------------------------------- CloudTrail
resource "aws_cloudwatch_log_group" "trail" {
  name              = "${var.name}-cloudtrail"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_iam_role" "trail" {
  name = "${var.name}-cloudtrail"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "cloudtrail.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
}

resource "aws_iam_role_policy" "trail" {
  name = "write-the-trail-log-group"
  role = aws_iam_role.trail.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "WriteTheTrailLogGroupOnly"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.trail.arn}:log-stream:*"]
    }]
  })
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV_AWS_252:An SNS message per delivered trail file would flood the on-call alarm topic; the trail streams to CloudWatch Logs, where metric filters and the SIEM watch it.
  name                          = var.name
  s3_bucket_name                = var.log_bucket
  s3_key_prefix                 = "cloudtrail"
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = var.logs_kms_key_arn
  cloud_watch_logs_group_arn    = "${aws_cloudwatch_log_group.trail.arn}:*"
  cloud_watch_logs_role_arn     = aws_iam_role.trail.arn
  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }
}

# ---------------------------------------------------------------- GuardDuty
resource "aws_guardduty_detector" "this" {
  #checkov:skip=CKV2_AWS_3:This is one account's detector; organisation-wide auto-enable belongs to the GuardDuty delegated administrator (set manage_account_baseline = false where it runs).
  enable                       = true
  finding_publishing_frequency = "FIFTEEN_MINUTES"
}

resource "aws_guardduty_detector_feature" "this" {
  for_each    = toset(["S3_DATA_EVENTS", "RDS_LOGIN_EVENTS"])
  detector_id = aws_guardduty_detector.this.id
  name        = each.key
  status      = "ENABLED"
}

# ---------------------------------------------------------------- AWS Config
resource "aws_iam_role" "config" {
  name = "${var.name}-config"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "config" {
  role       = aws_iam_role.config.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

resource "aws_iam_role_policy" "config_delivery" {
  name = "deliver-to-the-logging-bucket"
  role = aws_iam_role.config.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "CheckTheLoggingBucket"
        Effect   = "Allow"
        Action   = ["s3:GetBucketAcl"]
        Resource = ["arn:${local.partition}:s3:::${var.log_bucket}"]
      },
      {
        Sid       = "WriteConfigSnapshotsAndHistory"
        Effect    = "Allow"
        Action    = ["s3:PutObject"]
        Resource  = ["arn:${local.partition}:s3:::${var.log_bucket}/config/AWSLogs/${local.account}/*"]
        Condition = { StringEquals = { "s3:x-amz-acl" = "bucket-owner-full-control" } }
      },
    ]
  })
}

resource "aws_config_configuration_recorder" "this" {
  name     = var.name
  role_arn = aws_iam_role.config.arn
  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "this" {
  name           = var.name
  s3_bucket_name = var.log_bucket
  s3_key_prefix  = "config"
  snapshot_delivery_properties {
    delivery_frequency = "TwentyFour_Hours"
  }
  depends_on = [aws_config_configuration_recorder.this]
}

resource "aws_config_configuration_recorder_status" "this" {
  name       = aws_config_configuration_recorder.this.name
  is_enabled = true
  depends_on = [aws_config_delivery_channel.this]
}
