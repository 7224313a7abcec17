# ElastiCache (Redis OSS): TLS in transit (required), KMS at rest, and AUTH
# through RBAC users. The app's user authenticates with IAM (short-lived SigV4
# tokens signed by the task role), so no Redis password exists anywhere; the
# mandatory "default" user is switched off.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Redis: from the application tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "from_app" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the application tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = var.app_security_group_id
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_elasticache_user" "disabled_default" {
  user_id       = "${var.name}-default"
  user_name     = "default"
  engine        = "REDIS"
  access_string = "off -@all"
  authentication_mode {
    type = "no-password-required"
  }
}

resource "aws_elasticache_user" "app" {
  user_id       = "${var.name}-app"
  user_name     = "${var.name}-app"
  engine        = "REDIS"
  access_string = "on ~${var.key_prefix}:* &${var.key_prefix}:* -@all +@read +@write +@string +@hash +@list +@set +@sortedset +@scripting +@connection -@dangerous"
  authentication_mode {
    type = "iam"
  }
}

resource "aws_elasticache_user_group" "this" {
  user_group_id = var.name
  engine        = "REDIS"
  user_ids      = [aws_elasticache_user.disabled_default.user_id, aws_elasticache_user.app.user_id]
}

resource "aws_cloudwatch_log_group" "slow" {
  name              = "${var.name}-redis-slow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "${var.name}: sessions, rate limits, replay guards"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.node_type
  port                 = 6379
  num_cache_clusters   = 2

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  user_group_ids             = [aws_elasticache_user_group.this.user_group_id]

  automatic_failover_enabled = true
  multi_az_enabled           = true
  auto_minor_version_upgrade = true
  snapshot_retention_limit   = 7
  snapshot_window            = "01:00-02:00"
  maintenance_window         = "sun:04:30-sun:05:30"

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}
