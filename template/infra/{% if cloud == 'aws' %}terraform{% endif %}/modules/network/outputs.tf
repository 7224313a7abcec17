output "vpc_id" {
  value = aws_vpc.this.id
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "app_subnet_ids" {
  value = aws_subnet.app[*].id
}

output "data_subnet_ids" {
  value = aws_subnet.data[*].id
}

output "endpoints_security_group_id" {
  value = aws_security_group.endpoints.id
}

output "s3_prefix_list_id" {
  description = "The S3 gateway endpoint's prefix list (ECR image layers and the invoice bucket)."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}
