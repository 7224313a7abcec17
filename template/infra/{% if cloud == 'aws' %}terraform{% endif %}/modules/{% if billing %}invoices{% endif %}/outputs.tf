output "bucket" {
  description = "APP_BILLING_INVOICE_BUCKET."
  value       = aws_s3_bucket.invoices.id
}

output "bucket_arn" {
  value = aws_s3_bucket.invoices.arn
}
