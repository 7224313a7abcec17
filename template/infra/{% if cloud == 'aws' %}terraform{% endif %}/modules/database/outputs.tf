output "endpoint" {
  value = aws_db_instance.this.address
}

output "resource_id" {
  description = "Used in rds-db:connect ARNs (IAM database authentication)."
  value       = aws_db_instance.this.resource_id
}

output "master_user_secret_arn" {
  description = "The RDS-managed secret of the schema owner (used by the migration task only)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  value = aws_security_group.database.id
}
