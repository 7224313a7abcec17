output "primary_endpoint" {
  value = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "replication_group_arn" {
  value = aws_elasticache_replication_group.this.arn
}

output "replication_group_id" {
  value = aws_elasticache_replication_group.this.id
}

output "app_user_id" {
  value = aws_elasticache_user.app.user_id
}

output "app_user_arn" {
  value = aws_elasticache_user.app.arn
}

output "security_group_id" {
  value = aws_security_group.redis.id
}
