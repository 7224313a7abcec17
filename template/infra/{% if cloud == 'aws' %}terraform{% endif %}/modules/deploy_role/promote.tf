# The only writer of the ECR repository the tasks pull from. The release signs the image in
# ghcr.io; the deploy's verifier (.github/workflows/verify-release.yml, called from deploy.yml on
# `main`) verifies that digest there, and its promotion job assumes this role to copy exactly that
# digest (with its signatures and attestations, `cosign copy`) into ECR, then verifies it again in
# ECR before anything is registered on it. The deploy role itself can no longer push anything.
# Tags are immutable (runtime/main.tf): a promoted release tag cannot be moved to another image.

resource "aws_iam_role" "promote" {
  name                 = "${var.name}-github-promote"
  max_session_duration = 3600
  # Bound like the other roles: the verifier's promote job, on the protected branch, in the promotion
  # environment. That job is defined in verify-release.yml, which deploy.yml calls; for a job of a
  # called (reusable) workflow GitHub puts the CALLED file in job_workflow_ref, and the caller's ref
  # (main, as deploy.yml runs only there) in `ref` and after the `@`.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = "repository_owner_id:${var.github_repository_owner_id}:repository_id:${var.github_repository_id}:repo:${var.github_repository}:environment:${var.promote_environment}:ref:${var.github_ref}:job_workflow_ref:${var.github_repository}/${var.promote_github_workflow}@${var.github_ref}"
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "promote" {
  name = "push-verified-digests"
  role = aws_iam_role.promote.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # AWS-REQUIRED-WILDCARD: ecr:GetAuthorizationToken has no resource-level permissions; AWS requires "*".
        Sid      = "EcrLoginToken"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*"
      },
      {
        # Push and read back (cosign verifies the copy in ECR): this repository (and a sidecar's, such
        # as the OPA repository, which receives only the digest pinned in the repository) only.
        Sid    = "CopyIntoThisRepositoryOnly"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
          "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
        ]
        Resource = concat([var.ecr_repository_arn], var.sidecar_ecr_repository_arns)
      },
    ]
  })
}
