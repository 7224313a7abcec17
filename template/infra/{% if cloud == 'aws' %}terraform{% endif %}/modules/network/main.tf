# Network: private subnets for tasks and data, no public IPs, VPC endpoints
# for AWS APIs (each with a policy: this account's principals, this account's
# resources), internet egress only through AWS Network Firewall with a domain
# allow-list (then NAT), and DNS answered only for the names the workloads need
# (dns_firewall.tf). See docs/infrastructure.md ("Egress").

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  azs      = var.availability_zones
  az_count = length(var.availability_zones)
  public   = [for index, az in local.azs : cidrsubnet(var.cidr_block, 8, index)]
  egress   = [for index, az in local.azs : cidrsubnet(var.cidr_block, 8, 10 + index)]
  app      = [for index, az in local.azs : cidrsubnet(var.cidr_block, 6, 8 + index)]
  data     = [for index, az in local.azs : cidrsubnet(var.cidr_block, 8, 20 + index)]
  # The firewall endpoint of each AZ, so every private subnet egresses through the firewall in its own AZ.
  firewall_endpoints = {
    for state in tolist(aws_networkfirewall_firewall.egress.firewall_status[0].sync_states) :
    state.availability_zone => state.attachment[0].endpoint_id
  }
  interface_endpoints = ["ecr.api", "ecr.dkr", "secretsmanager", "kms", "logs", "sts"]
  account             = data.aws_caller_identity.current.account_id
  # What the workloads call through each endpoint. The endpoint policy allows these actions only to
  # this account's principals on this account's resources: credentials of another account (an
  # attacker's) cannot carry data out through the endpoint, nor reach that account's resources.
  endpoint_actions = {
    "ecr.api"        = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    "ecr.dkr"        = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    "secretsmanager" = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    "kms"            = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    "logs"           = ["logs:CreateLogStream", "logs:PutLogEvents"]
    "sts"            = ["sts:GetCallerIdentity"]
  }
  # Actions that name no resource, so aws:ResourceAccount is absent: this account's principals only.
  endpoint_resourceless_actions = {
    "ecr.api"        = ["ecr:GetAuthorizationToken"]
    "ecr.dkr"        = ["ecr:GetAuthorizationToken"]
    "secretsmanager" = []
    "kms"            = []
    "logs"           = []
    "sts"            = ["sts:GetCallerIdentity"]
  }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

# The default security group admits and emits nothing; every resource gets its own group.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "${var.name}-vpc-flow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_iam_role" "flow" {
  name = "${var.name}-vpc-flow"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = aws_vpc.this.owner_id } }
    }]
  })
}

resource "aws_iam_role_policy" "flow" {
  name = "write-flow-logs"
  role = aws_iam_role.flow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.flow.arn}:log-stream:*"]
    }]
  })
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow.arn
  iam_role_arn         = aws_iam_role.flow.arn
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = var.name }
}

# ---------------------------------------------------------------- subnets (no public IPs anywhere)
resource "aws_subnet" "public" {
  count                   = local.az_count
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.public[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "egress" {
  count                   = local.az_count
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.egress[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-firewall-${local.azs[count.index]}", Tier = "firewall" }
}

resource "aws_subnet" "app" {
  count                   = local.az_count
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.app[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-app-${local.azs[count.index]}", Tier = "app" }
}

resource "aws_subnet" "data" {
  count                   = local.az_count
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.data[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-data-${local.azs[count.index]}", Tier = "data" }
}

# ---------------------------------------------------------------- NAT (behind the firewall)
resource "aws_eip" "nat" {
  count  = local.az_count
  domain = "vpc"
  tags   = { Name = "${var.name}-nat-${local.azs[count.index]}" }
}

resource "aws_nat_gateway" "this" {
  count         = local.az_count
  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = { Name = "${var.name}-${local.azs[count.index]}" }
  depends_on    = [aws_internet_gateway.this]
}

# ---------------------------------------------------------------- egress firewall: a domain allow-list
resource "aws_networkfirewall_rule_group" "allowed_domains" {
  name     = "${var.name}-allowed-domains"
  type     = "STATEFUL"
  capacity = 100
  encryption_configuration {
    type   = "CUSTOMER_KMS"
    key_id = var.data_kms_key_arn
  }
  rule_group {
    stateful_rule_options {
      rule_order = "STRICT_ORDER"
    }
    rule_variables {
      ip_sets {
        key = "HOME_NET"
        ip_set {
          definition = [var.cidr_block]
        }
      }
    }
    rules_source {
      rules_source_list {
        generated_rules_type = "ALLOWLIST"
        target_types         = ["TLS_SNI", "HTTP_HOST"]
        targets              = var.allowed_egress_domains
      }
    }
  }
}

resource "aws_networkfirewall_firewall_policy" "egress" {
  name = "${var.name}-egress"
  encryption_configuration {
    type   = "CUSTOMER_KMS"
    key_id = var.data_kms_key_arn
  }
  firewall_policy {
    stateless_default_actions          = ["aws:forward_to_sfe"]
    stateless_fragment_default_actions = ["aws:forward_to_sfe"]
    stateful_default_actions           = ["aws:drop_established", "aws:alert_established"]
    stateful_engine_options {
      rule_order = "STRICT_ORDER"
    }
    stateful_rule_group_reference {
      priority     = 10
      resource_arn = aws_networkfirewall_rule_group.allowed_domains.arn
    }
  }
}

resource "aws_networkfirewall_firewall" "egress" {
  name                     = "${var.name}-egress"
  vpc_id                   = aws_vpc.this.id
  firewall_policy_arn      = aws_networkfirewall_firewall_policy.egress.arn
  delete_protection        = true
  subnet_change_protection = true
  encryption_configuration {
    type   = "CUSTOMER_KMS"
    key_id = var.data_kms_key_arn
  }
  dynamic "subnet_mapping" {
    for_each = aws_subnet.egress
    content {
      subnet_id = subnet_mapping.value.id
    }
  }
}

resource "aws_cloudwatch_log_group" "firewall" {
  name              = "${var.name}-egress-firewall"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_networkfirewall_logging_configuration" "egress" {
  firewall_arn = aws_networkfirewall_firewall.egress.arn
  logging_configuration {
    log_destination_config {
      log_type             = "ALERT"
      log_destination_type = "CloudWatchLogs"
      log_destination      = { logGroup = aws_cloudwatch_log_group.firewall.name }
    }
  }
}

# ---------------------------------------------------------------- routes
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}-public" }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

# Return traffic from NAT to the app subnets goes back through the firewall of the same AZ.
resource "aws_route" "public_return_via_firewall" {
  count                  = local.az_count
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = local.app[count.index]
  vpc_endpoint_id        = local.firewall_endpoints[local.azs[count.index]]
}

resource "aws_route_table_association" "public" {
  count          = local.az_count
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "egress" {
  count  = local.az_count
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}-firewall-${local.azs[count.index]}" }
}

resource "aws_route" "egress_to_nat" {
  count                  = local.az_count
  route_table_id         = aws_route_table.egress[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[count.index].id
}

resource "aws_route_table_association" "egress" {
  count          = local.az_count
  subnet_id      = aws_subnet.egress[count.index].id
  route_table_id = aws_route_table.egress[count.index].id
}

resource "aws_route_table" "app" {
  count  = local.az_count
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}-app-${local.azs[count.index]}" }
}

resource "aws_route" "app_via_firewall" {
  count                  = local.az_count
  route_table_id         = aws_route_table.app[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  vpc_endpoint_id        = local.firewall_endpoints[local.azs[count.index]]
}

resource "aws_route_table_association" "app" {
  count          = local.az_count
  subnet_id      = aws_subnet.app[count.index].id
  route_table_id = aws_route_table.app[count.index].id
}

# Data subnets have no route out of the VPC at all.
resource "aws_route_table" "data" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = "${var.name}-data" }
}

resource "aws_route_table_association" "data" {
  count          = local.az_count
  subnet_id      = aws_subnet.data[count.index].id
  route_table_id = aws_route_table.data.id
}

# ---------------------------------------------------------------- VPC endpoints: AWS APIs never leave the VPC
resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(local.interface_endpoints)
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.app[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  tags                = { Name = "${var.name}-${each.key}" }
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "ThisAccountsPrincipalsOnThisAccountsResources"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = local.endpoint_actions[each.key]
        Resource  = "*"
        Condition = { StringEquals = { "aws:PrincipalAccount" = local.account, "aws:ResourceAccount" = local.account } }
      }],
      length(local.endpoint_resourceless_actions[each.key]) > 0 ? [{
        Sid       = "ThisAccountsPrincipalsOnActionsWithoutAResource"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = local.endpoint_resourceless_actions[each.key]
        Resource  = "*"
        Condition = { StringEquals = { "aws:PrincipalAccount" = local.account } }
      }] : [],
    )
  })
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.app[*].id
  tags              = { Name = "${var.name}-s3" }
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The invoice bucket (and any bucket of this account): no bucket of another account is reachable.
        Sid       = "ThisAccountsPrincipalsOnThisAccountsBuckets"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["s3:GetObject", "s3:GetObjectRetention", "s3:PutObject", "s3:PutObjectRetention"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:PrincipalAccount" = local.account, "aws:ResourceAccount" = local.account } }
      },
      {
        # ECR keeps image layers in this AWS-owned bucket and hands out URLs presigned by an ECR
        # account, so no principal condition can hold; the resource is named, read-only.
        Sid       = "EcrImageLayersFromTheAwsOwnedBucket"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action    = ["s3:GetObject"]
        Resource  = ["arn:${data.aws_partition.current.partition}:s3:::prod-${data.aws_region.current.name}-starport-layer-bucket/*"]
      },
    ]
  })
}
