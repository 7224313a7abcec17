variable "name" {
  description = "Prefix of every resource name; the bucket is <name>-access-logs-<account id>."
  type        = string
}

variable "retention_days" {
  description = "How long load-balancer and S3 access logs are kept."
  type        = number
  default     = 400
}
