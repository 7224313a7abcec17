output "alb_dns_name" {
  value = aws_lb.this.dns_name
}

output "ecr_repository_url" {
  value = aws_ecr_repository.app.repository_url
}

output "ecr_repository_arn" {
  value = aws_ecr_repository.app.arn
}

output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}

output "service_name" {
  value = aws_ecs_service.app.name
}

output "task_definition_family" {
  value = aws_ecs_task_definition.app.family
}

output "drift_task_definition_family" {
  description = "ECS_DRIFT_TASK_FAMILY of the production-audit environment: the nightly drift check."
  value       = aws_ecs_task_definition.drift.family
}

output "drift_task_role_arn" {
  value = aws_iam_role.drift.arn
}

output "task_role_arn" {
  value = aws_iam_role.task.arn
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "app_security_group_id" {
  value = aws_security_group.app.id
}

output "alarm_topic_arn" {
  description = "Where the runtime's alarms (the SIEM backlog) publish: subscribe the on-call rotation."
  value       = aws_sns_topic.alarms.arn
}

output "migrate_task_definition_family" {
  value = aws_ecs_task_definition.migrate.family
}

output "migrate_task_role_arn" {
  value = aws_iam_role.migrate.arn
}

output "log_group_arn" {
  description = "The app's log group; the one-off tasks (migrate, drift) log to it under their own stream prefix."
  value       = aws_cloudwatch_log_group.app.arn
}

output "terraform_revision_parameter_arns" {
  description = "Family -> the SSM parameter holding the revision Terraform registered (read by the release roles)."
  value       = { for family, parameter in aws_ssm_parameter.terraform_revision : family => parameter.arn }
}
