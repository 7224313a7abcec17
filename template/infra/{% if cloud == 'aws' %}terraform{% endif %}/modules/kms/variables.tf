variable "name" {
  description = "Prefix of every resource name, e.g. my-app-production."
  type        = string
}

variable "app_role_arns" {
  description = "The app's task role: it may use the data key through Secrets Manager and S3 only."
  type        = list(string)
  validation {
    condition     = length(var.app_role_arns) > 0
    error_message = "Name the task role: without it the app cannot read its secret or its invoices."
  }
}

variable "tenant_wrap_role_arns" {
  description = "Roles that wrap tenant data keys with the data key directly, each wrap under a tenant encryption context (pooled tenancy on KMS)."
  type        = list(string)
  default     = []
}

variable "master_secret_reader_arns" {
  description = "Break-glass roles that may decrypt the RDS master secret through Secrets Manager."
  type        = list(string)
  default     = []
}

variable "log_reader_arns" {
  description = "Security roles that may read the KMS-encrypted CloudTrail files in S3."
  type        = list(string)
  default     = []
}
