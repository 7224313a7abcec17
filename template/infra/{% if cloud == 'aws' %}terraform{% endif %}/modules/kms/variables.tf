variable "name" {
  description = "Prefix of every resource name, e.g. my-app-production."
  type        = string
}
