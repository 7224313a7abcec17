# The nightly permission-drift check (docs/supply-chain.md, "Nightly"): a task definition of its own
# whose command is fixed here, run by the audit workflow without any override. It connects as the
# drift reader (`APP_DRIFT_DATABASE_URL`, provisioned by `migrate`: read-only, and only the three
# columns of role_assignments drift compares), and its task role can sign IAM database tokens for
# that login alone: no secret, no KMS key, no bucket, no other database role. The deploy registers
# a revision of it on every verified digest (`ecs_release.py deploy --also-family`), and the nightly
# run refuses one whose image differs from the service's.

resource "aws_iam_role" "drift" {
  name               = "${var.name}-drift"
  assume_role_policy = local.ecs_trust
}

resource "aws_iam_role_policy" "drift" {
  name = "connect-as-the-drift-reader"
  role = aws_iam_role.drift.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "IamDatabaseLoginAsTheDriftReaderOnly"
      Effect   = "Allow"
      Action   = ["rds-db:connect"]
      Resource = ["arn:${local.partition}:rds-db:${local.region}:${local.account}:dbuser:${var.database_resource_id}/${var.database_drift_user}"]
    }]
  })
}

resource "aws_ecs_task_definition" "drift" {
  family                   = "${var.name}-drift"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.drift.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode([{
    name                   = "drift"
    image                  = var.image
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    privileged             = false
    # Fixed: the approved snapshot baked into the verified image (Dockerfile: COPY policy/).
    command     = ["drift", "--approved", "policy/approved-grants.json"]
    environment = [for key in sort(keys(var.environment_variables)) : { name = key, value = var.environment_variables[key] }]
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "drift"
      }
    }
  }])
  lifecycle {
    precondition {
      condition     = startswith(var.image, "${aws_ecr_repository.app.repository_url}@sha256:")
      error_message = "var.image must be a digest in this stack's ECR repository."
    }
  }
}
