variable "name" {
  description = "Prefix of every resource name; the trail is named exactly this (the logs key and the bucket policy trust it by name)."
  type        = string
}

variable "log_bucket" {
  description = "The logging bucket (modules/logging): trail files under cloudtrail/, Config history under config/."
  type        = string
}

variable "logs_kms_key_arn" {
  description = "Encrypts the trail files and the trail's log group (its key policy admits this trail only)."
  type        = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "audit_role_name" {
  description = "The GitHub audit role (deploy_role): a RunTask of its with containerOverrides raises an alarm."
  type        = string
}

variable "alarm_topic_arn" {
  description = "Where the run-task-overrides alarm publishes (the runtime's alarm topic)."
  type        = string
}
