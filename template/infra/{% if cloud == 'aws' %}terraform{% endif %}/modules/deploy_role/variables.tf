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

variable "github_repository_owner_id" {
  description = "The numeric id of the repository's owner (gh api repos/OWNER/REPO --jq .owner.id): a name can be re-registered by someone else, an id cannot."
  type        = string
  validation {
    condition     = can(regex("^[0-9]+$", var.github_repository_owner_id))
    error_message = "Use the owner's numeric id."
  }
}

variable "github_repository_id" {
  description = "The repository's numeric id (gh api repos/OWNER/REPO --jq .id): a deleted and re-created (or transferred and re-created) repository of the same name has another."
  type        = string
  validation {
    condition     = can(regex("^[0-9]+$", var.github_repository_id))
    error_message = "Use the repository's numeric id."
  }
}

variable "github_environment" {
  description = "The GitHub environment (with required reviewers for production) the deploy job runs in."
  type        = string
}

variable "github_ref" {
  description = "The only git ref whose workflows may assume these roles: the protected default branch (one branch, no pattern)."
  type        = string
  default     = "refs/heads/main"
  validation {
    condition     = can(regex("^refs/heads/[A-Za-z0-9._-]+$", var.github_ref))
    error_message = "Use one branch, e.g. refs/heads/main (no wildcard, no tag)."
  }
}

variable "github_workflow" {
  description = "The workflow file whose jobs may assume the deploy and migrations roles."
  type        = string
  default     = ".github/workflows/deploy.yml"
  validation {
    condition     = can(regex("^\\.github/workflows/[A-Za-z0-9_.-]+\\.ya?ml$", var.github_workflow))
    error_message = "Name one workflow file, e.g. .github/workflows/deploy.yml."
  }
}

variable "migrations_github_environment" {
  description = "The GitHub environment (required reviewers: the database owners) of the job that runs migrations."
  type        = string
}

variable "audit_github_environment" {
  description = "The GitHub environment of the nightly read-only audit job."
  type        = string
}

variable "audit_github_workflow" {
  description = "The workflow file whose jobs may assume the audit role."
  type        = string
  default     = ".github/workflows/nightly.yml"
  validation {
    condition     = can(regex("^\\.github/workflows/[A-Za-z0-9_.-]+\\.ya?ml$", var.audit_github_workflow))
    error_message = "Name one workflow file, e.g. .github/workflows/nightly.yml."
  }
}

variable "migrations_task_family" {
  description = "The one task definition family the migrations role may run (the `migrate` task)."
  type        = string
}

variable "migrations_pass_role_arns" {
  description = "The migrations task's task and execution roles: the only roles the migrations role may pass."
  type        = list(string)
}

variable "audit_task_family" {
  description = "The one task definition family the audit role may run (the nightly drift check)."
  type        = string
}

variable "audit_pass_role_arns" {
  description = "The drift task's task and execution roles: the only roles the audit role may pass."
  type        = list(string)
}

variable "task_log_group_arn" {
  description = "The log group of the one-off tasks; the migrations and audit roles read their own task's stream."
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

variable "sidecar_ecr_repository_arns" {
  description = "ECR repositories of sidecar images the promotion job copies by pinned digest (the OPA sidecar's), besides the app's."
  type        = list(string)
  default     = []
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

variable "promote_github_workflow" {
  description = "The workflow file whose jobs may assume the promotion role: the verifier deploy.yml calls (its job_workflow_ref)."
  type        = string
  default     = ".github/workflows/verify-release.yml"
  validation {
    condition     = can(regex("^\\.github/workflows/[A-Za-z0-9_.-]+\\.ya?ml$", var.promote_github_workflow))
    error_message = "Name one workflow file, e.g. .github/workflows/verify-release.yml."
  }
}
