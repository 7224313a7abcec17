output "key_arns" {
  value = [for key in aws_kms_key.tenant : key.arn]
}

output "key_arn_by_tenant" {
  value = { for tenant, key in aws_kms_key.tenant : tenant => key.arn }
}
