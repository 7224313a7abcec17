# The GitHub side of the deploy path, as code. The AWS roles (modules/deploy_role) trust a job only
# when GitHub says it runs one named workflow, on main, in one environment; these resources make
# that statement mean something:
#   - the repository's OIDC subject carries the environment, the ref and the workflow file;
#   - the environments exist (GitHub would otherwise create an unprotected one the first time a
#     workflow names it), deploy only from main, and need an approval from a named team that the
#     person who started the job cannot give, with no administrator bypass;
#   - main changes only through a reviewed pull request whose CI checks passed (checks reported
#     by GitHub Actions itself, not a commit status anyone with write access can post), and is
#     never force-pushed or deleted;
#   - release tags (v*) are created only by the release managers and never moved or deleted.
# A writer without admin rights can push a branch whose workflow names `production`: that job waits
# for no approval because it never gets the environment (main only), and its OIDC subject names
# its own ref and workflow, which no AWS role trusts.

terraform {
  required_providers {
    github = { source = "integrations/github" }
  }
}

locals {
  #: GitHub Actions' app id: a required check counts only when GitHub Actions reported it.
  github_actions_app_id = 15368
  reviewer_teams        = toset(flatten(values(var.environments)))
}

data "github_team" "reviewers" {
  for_each     = local.reviewer_teams
  slug         = each.key
  summary_only = true
}

data "github_team" "release_managers" {
  slug         = var.release_managers_team
  summary_only = true
}

# ---------------------------------------------------------------- the OIDC subject the AWS roles match
resource "github_actions_repository_oidc_subject_claim_customization_template" "this" {
  repository  = var.repository
  use_default = false
  # repository_owner_id:<id>:repository_id:<id>:repo:<owner>/<repo>:environment:<name>:ref:<ref>:
  # job_workflow_ref:<owner>/<repo>/<workflow>@<ref>. The ids bind the trust to THIS repository: a
  # name alone is matched again by a repository re-created (or an owner re-registered) under it.
  include_claim_keys = ["repository_owner_id", "repository_id", "repo", "context", "ref", "job_workflow_ref"]
}

# ---------------------------------------------------------------- deployment environments
resource "github_repository_environment" "this" {
  for_each            = var.environments
  repository          = var.repository
  environment         = each.key
  prevent_self_review = true
  can_admins_bypass   = false
  dynamic "reviewers" {
    for_each = length(each.value) > 0 ? [each.value] : []
    content {
      teams = [for slug in reviewers.value : tonumber(data.github_team.reviewers[slug].id)]
    }
  }
  deployment_branch_policy {
    protected_branches     = false
    custom_branch_policies = true
  }
}

resource "github_repository_environment_deployment_policy" "main_only" {
  for_each       = github_repository_environment.this
  repository     = var.repository
  environment    = each.value.environment
  branch_pattern = var.deploy_branch
}

# ---------------------------------------------------------------- main: reviewed, checked, never rewritten
resource "github_repository_ruleset" "main" {
  name        = "main: reviewed and checked"
  repository  = var.repository
  target      = "branch"
  enforcement = "active"
  conditions {
    ref_name {
      include = ["refs/heads/${var.deploy_branch}"]
      exclude = []
    }
  }
  rules {
    deletion         = true
    non_fast_forward = true
    pull_request {
      required_approving_review_count   = var.required_approvals
      dismiss_stale_reviews_on_push     = true
      require_last_push_approval        = true
      required_review_thread_resolution = true
    }
    required_status_checks {
      strict_required_status_checks_policy = true
      dynamic "required_check" {
        for_each = toset(var.required_checks)
        content {
          context        = required_check.value
          integration_id = local.github_actions_app_id
        }
      }
    }
  }
}

# ---------------------------------------------------------------- release tags
resource "github_repository_ruleset" "release_tags_created_by_release_managers" {
  name        = "release tags: created by release managers"
  repository  = var.repository
  target      = "tag"
  enforcement = "active"
  conditions {
    ref_name {
      include = ["refs/tags/v*"]
      exclude = []
    }
  }
  bypass_actors {
    actor_id    = tonumber(data.github_team.release_managers.id)
    actor_type  = "Team"
    bypass_mode = "always"
  }
  rules {
    creation = true
  }
}

# No bypass at all: a signed release's tag never moves to another commit and is never deleted.
resource "github_repository_ruleset" "release_tags_immutable" {
  name        = "release tags: immutable"
  repository  = var.repository
  target      = "tag"
  enforcement = "active"
  conditions {
    ref_name {
      include = ["refs/tags/v*"]
      exclude = []
    }
  }
  rules {
    update   = true
    deletion = true
  }
}
