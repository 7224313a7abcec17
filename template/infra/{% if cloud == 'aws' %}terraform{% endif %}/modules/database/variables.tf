variable "name" {
  description = "Prefix of every resource name."
  type        = string
}

variable "subnet_ids" {
  description = "Private data subnets (no route out of the VPC)."
  type        = list(string)
}


variable "kms_key_arn" {
  description = "Encrypts storage, snapshots, Performance Insights and the managed master password."
  type        = string
}

variable "instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "allocated_storage_gb" {
  type    = number
  default = 50
}

variable "max_allocated_storage_gb" {
  type    = number
  default = 500
}

variable "engine_version" {
  description = "PostgreSQL major.minor; minor upgrades are applied automatically."
  type        = string
  default     = "16.4"
}

variable "backup_retention_days" {
  description = "Automated backups and point-in-time restore window (RPO 5 min, docs/operations/rto-rpo.md)."
  type        = number
  default     = 35
  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "Keep 7 to 35 days of automated backups."
  }
}

variable "multi_az" {
  description = "A synchronous standby in a second AZ (RTO 60 min assumes it)."
  type        = bool
  default     = true
}

variable "database_name" {
  type    = string
  default = "app"
}

variable "logs_kms_key_arn" {
  description = "Encrypts the exported PostgreSQL logs."
  type        = string
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

variable "master_secret_reader_arns" {
  description = "Break-glass roles that may read the RDS-managed master password (default: none but RDS itself)."
  type        = list(string)
  default     = []
}
