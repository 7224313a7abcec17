# Credentials come from the environment of the administrator who applies this root: a GitHub App
# installation (GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID, GITHUB_APP_PEM_FILE) or GITHUB_TOKEN with
# admin rights on the repository. CI never holds them.
provider "github" {
  owner = var.owner
}
