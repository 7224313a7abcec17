variable "name" {
  type = string
}

variable "tenants" {
  description = "Tenant ids; each gets its own KMS key (crypto-shredding on offboarding: schedule its deletion)."
  type        = set(string)
  validation {
    condition     = alltrue([for tenant in var.tenants : can(regex("^[a-z0-9][a-z0-9-]{0,40}$", tenant))])
    error_message = "Tenant ids are lowercase letters, digits and hyphens (up to 41 characters)."
  }
}

variable "user_role_arns" {
  description = "The app's task role: the only principal that may wrap and unwrap with the tenant keys."
  type        = list(string)
  validation {
    condition     = length(var.user_role_arns) > 0
    error_message = "Name the task role that wraps tenant data keys."
  }
}
