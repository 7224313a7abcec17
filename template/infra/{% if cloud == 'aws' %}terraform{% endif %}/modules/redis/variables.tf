variable "name" {
  description = "Prefix of every resource name; also the replication group id the app signs IAM tokens for."
  type        = string
}

variable "subnet_ids" {
  type = list(string)
}


variable "kms_key_arn" {
  type = string
}

variable "logs_kms_key_arn" {
  type = string
}

variable "key_prefix" {
  description = "The app's key prefix (APP_REDIS_KEY_PREFIX); the app user may touch only these keys."
  type        = string
}

variable "node_type" {
  type    = string
  default = "cache.t4g.small"
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "vpc_id" {
  type = string
}

variable "app_security_group_id" {
  description = "The application tasks' security group: the only one admitted."
  type        = string
}
