variable "name" {
  type = string
}

variable "kms_key_arn" {
  type = string
}

variable "access_log_bucket" {
  type = string
}

variable "retention_days" {
  description = "Object Lock COMPLIANCE retention of every invoice (nobody, not even root, can shorten it)."
  type        = number
  default     = 3650
}

variable "writer_role_arns" {
  description = "The only roles that may write invoices (the app's task role)."
  type        = list(string)
}
