output "role_arn" {
  description = "Put this in the GitHub environment as AWS_DEPLOY_ROLE_ARN (not a secret)."
  value       = aws_iam_role.deploy.arn
}
