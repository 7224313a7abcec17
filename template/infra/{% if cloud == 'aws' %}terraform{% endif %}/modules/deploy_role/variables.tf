variable "name" {
  type = string
}

variable "github_repository" {
  description = "owner/repository on GitHub."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "Use the form owner/repository."
  }
}

variable "github_environment" {
  description = "The GitHub environment (with required reviewers for production) the deploy job runs in."
  type        = string
}

variable "create_oidc_provider" {
  description = "The GitHub OIDC provider exists once per AWS account; set false if another stack created it."
  type        = bool
  default     = true
}

variable "ecr_repository_arn" {
  type = string
}

variable "cluster_arn" {
  type = string
}

variable "service_name" {
  type = string
}

variable "task_definition_family" {
  type = string
}

variable "pass_role_arns" {
  description = "The task and execution roles a new task definition may reference."
  type        = list(string)
}

variable "promote_environment" {
  description = "The GitHub environment of the promotion job (verify-release.yml, run from main): the only job that may push to ECR."
  type        = string
}
