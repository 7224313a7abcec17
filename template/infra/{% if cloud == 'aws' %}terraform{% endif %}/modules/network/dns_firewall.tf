# Route 53 Resolver DNS Firewall: the VPC's resolver answers only for the names the workloads need
# -- AWS APIs, this VPC's endpoints, RDS and ElastiCache (all under amazonaws.com), the egress
# allow-list and resolvable_domains -- and says NXDOMAIN to everything else. So DNS cannot carry
# data to a name server an attacker runs (tunnelling through queries for <data>.attacker.example),
# and code that should not phone home cannot even resolve its host. It fails closed, its rule group
# cannot be detached without first lifting mutation protection, and every query is logged.

locals {
  dns_allowed_domains = distinct(flatten([
    ["amazonaws.com", "*.amazonaws.com", "*.${data.aws_region.current.name}.compute.internal"],
    # The firewall's ".example.com" (the domain and its subdomains) is two DNS Firewall entries.
    [for domain in concat(var.allowed_egress_domains, var.resolvable_domains) :
    startswith(domain, ".") ? [trimprefix(domain, "."), "*${domain}"] : [domain]],
  ]))
}

resource "aws_route53_resolver_firewall_domain_list" "allowed" {
  name    = "${var.name}-allowed"
  domains = local.dns_allowed_domains
}

resource "aws_route53_resolver_firewall_domain_list" "everything" {
  name    = "${var.name}-everything-else"
  domains = ["*"]
}

resource "aws_route53_resolver_firewall_rule_group" "egress" {
  name = "${var.name}-egress"
}

resource "aws_route53_resolver_firewall_rule" "allow_listed" {
  name                    = "allow-listed-names"
  action                  = "ALLOW"
  firewall_domain_list_id = aws_route53_resolver_firewall_domain_list.allowed.id
  firewall_rule_group_id  = aws_route53_resolver_firewall_rule_group.egress.id
  priority                = 100
}

resource "aws_route53_resolver_firewall_rule" "block_everything_else" {
  name                    = "block-everything-else"
  action                  = "BLOCK"
  block_response          = "NXDOMAIN"
  firewall_domain_list_id = aws_route53_resolver_firewall_domain_list.everything.id
  firewall_rule_group_id  = aws_route53_resolver_firewall_rule_group.egress.id
  priority                = 200
}

resource "aws_route53_resolver_firewall_rule_group_association" "egress" {
  name                   = "${var.name}-egress"
  firewall_rule_group_id = aws_route53_resolver_firewall_rule_group.egress.id
  priority               = 101
  vpc_id                 = aws_vpc.this.id
  mutation_protection    = "ENABLED"
}

# Fail closed: a query DNS Firewall cannot evaluate is not answered.
resource "aws_route53_resolver_firewall_config" "this" {
  resource_id        = aws_vpc.this.id
  firewall_fail_open = "DISABLED"
}

resource "aws_cloudwatch_log_group" "dns" {
  name              = "${var.name}-dns-queries"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_route53_resolver_query_log_config" "this" {
  name            = "${var.name}-dns-queries"
  destination_arn = aws_cloudwatch_log_group.dns.arn
}

resource "aws_route53_resolver_query_log_config_association" "this" {
  resolver_query_log_config_id = aws_route53_resolver_query_log_config.this.id
  resource_id                  = aws_vpc.this.id
}
