output "role_arn" {
  description = "Put this in the GitHub environment as AWS_DEPLOY_ROLE_ARN (not a secret)."
  value       = aws_iam_role.deploy.arn
}

output "promote_role_arn" {
  description = "AWS_PROMOTE_ROLE_ARN of the promotion environment: pushes verified digests into ECR (not a secret)."
  value       = aws_iam_role.promote.arn
}
