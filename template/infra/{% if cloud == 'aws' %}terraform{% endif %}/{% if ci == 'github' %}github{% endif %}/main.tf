# The repository's protections: environments, rulesets and the OIDC subject the AWS roles trust.
# One root for the whole repository (staging and production share it), applied by a repository
# administrator -- never by CI -- before the first `terraform apply` of an environment, and again
# whenever it changes. docs/supply-chain.md ("Who can assume the cloud roles") says why each exists.

module "repository_controls" {
  source                = "../modules/github_repository_controls"
  repository            = var.repository
  release_managers_team = var.release_managers_team
  required_approvals    = var.required_approvals
  # Every environment a role of modules/deploy_role trusts, and who approves its jobs. The promote
  # environment holds the only ECR writer (verify-release.yml's promote job): the release approvers
  # approve the copy of a verified digest into the registry the tasks pull from.
  environments = {
    "production"            = [var.release_approvers_team]
    "production-migrations" = [var.migration_approvers_team]
    "production-promote"    = [var.release_approvers_team]
    "production-audit"      = []
    "staging"               = [var.release_approvers_team]
    "staging-migrations"    = [var.migration_approvers_team]
    "staging-promote"       = [var.release_approvers_team]
    "staging-audit"         = []
  }
  # The jobs of .github/workflows/ci.yml, by name.
  required_checks = [
    "Lint and type check",
    "Tests (PostgreSQL + Redis)",
    "Policy and negative tests",
    "SAST, secrets and dependency audit",
    "IaC and workflow scanners",
    "Preflight",
  ]
}

output "oidc_subject_claim_keys" {
  value = module.repository_controls.oidc_subject_claim_keys
}
