output "oidc_subject_claim_keys" {
  description = "The claims of the OIDC subject, in order; modules/deploy_role matches this form."
  value       = github_actions_repository_oidc_subject_claim_customization_template.this.include_claim_keys
}
