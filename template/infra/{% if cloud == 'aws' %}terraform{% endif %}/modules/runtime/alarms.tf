# MON-02 holds only while the audit-forward sidecar delivers, and that sidecar is
# deliberately not essential (an unreachable SIEM must not stop serving). So its
# work is watched here: every forwarder logs the outbox backlog once a minute
# (`siem_backlog` with `pending`, security/siem.py). The alarm fires when the
# backlog stays above the threshold for 15 minutes, or when no forwarder reports
# at all: missing data counts as breaching, so a dead sidecar alarms too.
# Subscribe the on-call rotation to the topic (docs/infrastructure.md).

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.logs_kms_key_arn
}

resource "aws_cloudwatch_log_metric_filter" "siem_backlog" {
  name           = "${var.name}-siem-backlog"
  log_group_name = aws_cloudwatch_log_group.app.name
  pattern        = "{ $.event = \"siem_backlog\" }"

  metric_transformation {
    name      = "SiemBacklog"
    namespace = "${var.name}/audit"
    value     = "$.pending"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "siem_backlog" {
  alarm_name          = "${var.name}-siem-backlog"
  alarm_description   = "Audit events are not reaching the SIEM: the outbox backlog stays high, or no audit-forward sidecar reports (runbook: docs/runbooks/incident-response.md)."
  namespace           = aws_cloudwatch_log_metric_filter.siem_backlog.metric_transformation[0].namespace
  metric_name         = aws_cloudwatch_log_metric_filter.siem_backlog.metric_transformation[0].name
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.siem_backlog_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# AUTH-14: credential stuffing and failed-login spikes. The app's stuffing monitor
# logs each detection as a `security_alert` line (security/stuffing.py); every such
# line pages, since the monitor already applied its thresholds. No lines is normal.
resource "aws_cloudwatch_log_metric_filter" "security_alerts" {
  name           = "${var.name}-security-alerts"
  log_group_name = aws_cloudwatch_log_group.app.name
  pattern        = "{ $.event = \"security_alert\" }"

  metric_transformation {
    name          = "SecurityAlerts"
    namespace     = "${var.name}/security"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "security_alerts" {
  alarm_name          = "${var.name}-security-alerts"
  alarm_description   = "The login defences detected credential stuffing or a failed-login spike (security_alert lines; runbook: docs/runbooks/incident-response.md)."
  namespace           = aws_cloudwatch_log_metric_filter.security_alerts.metric_transformation[0].namespace
  metric_name         = aws_cloudwatch_log_metric_filter.security_alerts.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}
