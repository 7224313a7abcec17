# The audit role (deploy_role/audit_role.tf) may start the drift task, and ecs:RunTask accepts
# containerOverrides (another command or environment) with no IAM condition key to refuse them.
# The nightly job never sends overrides, so a RunTask by that role that carries them is someone
# using the role for something else: it pages. The trail streams to this log group; the alarm
# publishes to the runtime's alarm topic. After the fact, not a prevention (docs/infrastructure.md).

resource "aws_cloudwatch_log_metric_filter" "run_task_overrides" {
  name           = "${var.name}-audit-run-task-overrides"
  log_group_name = aws_cloudwatch_log_group.trail.name
  pattern        = "{ ($.eventSource = \"ecs.amazonaws.com\") && ($.eventName = \"RunTask\") && ($.userIdentity.sessionContext.sessionIssuer.userName = \"${var.audit_role_name}\") && ($.requestParameters.overrides.containerOverrides[0].name = \"*\") }"

  metric_transformation {
    name          = "AuditRunTaskOverrides"
    namespace     = "${var.name}/security"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "run_task_overrides" {
  alarm_name          = "${var.name}-audit-run-task-overrides"
  alarm_description   = "The audit role started a task with containerOverrides: the nightly drift job never does (docs/infrastructure.md; runbook: docs/runbooks/incident-response.md)."
  namespace           = aws_cloudwatch_log_metric_filter.run_task_overrides.metric_transformation[0].namespace
  metric_name         = aws_cloudwatch_log_metric_filter.run_task_overrides.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
}
