output "role_arn" {
  description = "Put this in the GitHub environment as AWS_DEPLOY_ROLE_ARN (not a secret)."
  value       = aws_iam_role.deploy.arn
}

output "migrations_role_arn" {
  description = "AWS_DEPLOY_ROLE_ARN of the migrations environment (the migrate job's role; not a secret)."
  value       = aws_iam_role.migrations.arn
}

output "audit_role_arn" {
  description = "AWS_AUDIT_ROLE_ARN of the audit environment (the nightly drift job's role; not a secret)."
  value       = aws_iam_role.audit.arn
}

output "promote_role_arn" {
  description = "AWS_PROMOTE_ROLE_ARN of the promotion environment: pushes verified digests into ECR (not a secret)."
  value       = aws_iam_role.promote.arn
}

output "audit_role_name" {
  description = "The audit role's name: CloudTrail names it as the session issuer (account_baseline alarms on its RunTask overrides)."
  value       = aws_iam_role.audit.name
}
