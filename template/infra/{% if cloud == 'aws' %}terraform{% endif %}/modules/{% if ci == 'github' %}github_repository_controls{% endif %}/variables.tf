variable "repository" {
  description = "The repository's name (without the owner; the provider's owner is the organisation)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.repository))
    error_message = "The repository name only, e.g. my-app."
  }
}

variable "environments" {
  description = "Deployment environment -> slugs of the teams whose approval a job in it needs ([] = none)."
  type        = map(list(string))
}

variable "deploy_branch" {
  description = "The protected branch: the only one that deploys, and the ref the AWS roles trust."
  type        = string
  default     = "main"
  validation {
    condition     = can(regex("^[A-Za-z0-9._-]+$", var.deploy_branch))
    error_message = "One branch name, no pattern."
  }
}

variable "release_managers_team" {
  description = "Slug of the team that may create v* release tags."
  type        = string
}

variable "required_approvals" {
  description = "Approving reviews a pull request into main needs."
  type        = number
  default     = 1
  validation {
    condition     = var.required_approvals >= 1
    error_message = "At least one approval: main must never change unreviewed."
  }
}

variable "required_checks" {
  description = "CI job names (ci.yml) that must pass, reported by GitHub Actions, before main changes."
  type        = list(string)
  validation {
    condition     = length(var.required_checks) > 0
    error_message = "Require at least one check."
  }
}
