# The interface endpoints' security group; every other group lives in the
# module of the resource it protects (runtime, database, redis).

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "VPC interface endpoints: HTTPS from the application subnets only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_app" {
  for_each          = toset(local.app)
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the application subnet ${each.key}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.key
}
