terraform {
  required_version = ">= 1.10.0"

  # Exact provider pin. Its checksums live in .terraform.lock.hcl, which you create
  # once with `make terraform-lock` and commit; CI fails while it is missing or
  # disagrees with this pin (docs/infrastructure.md, "Provider lock").
  required_providers {
    github = {
      source  = "integrations/github"
      version = "6.13.0"
    }
  }
}
