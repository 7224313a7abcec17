output "bucket" {
  value = aws_s3_bucket.logs.id
}

output "bucket_policy_id" {
  description = "Depend on it before creating the trail: CloudTrail checks the policy when the trail is created."
  value       = aws_s3_bucket_policy.logs.id
}
