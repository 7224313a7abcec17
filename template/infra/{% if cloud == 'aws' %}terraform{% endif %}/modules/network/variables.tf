variable "name" {
  description = "Prefix of every resource name."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Two or three AZs; every tier has one subnet per AZ."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "allowed_egress_domains" {
  description = "The only internet destinations the app may reach (TLS SNI / HTTP Host), e.g. the IdP and payment API."
  type        = list(string)
}

variable "app_port" {
  description = "Port the application container listens on."
  type        = number
  default     = 8000
}

variable "logs_kms_key_arn" {
  description = "KMS key for CloudWatch log groups."
  type        = string
}

variable "data_kms_key_arn" {
  description = "KMS key for the firewall's configuration."
  type        = string
}

variable "log_retention_days" {
  description = "CloudWatch retention for flow and firewall logs."
  type        = number
  default     = 365
}

variable "resolvable_domains" {
  description = "Names the workloads resolve but do not reach through the internet firewall (e.g. a Vault in a peered network)."
  type        = list(string)
  default     = []
}
