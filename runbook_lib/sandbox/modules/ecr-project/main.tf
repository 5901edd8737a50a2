# Sandbox stand-in for terraform-eks-cicd//modules/ecr-project at v0.3.0
# (82ebade). Same resources as upstream; what differs is inherited from the
# sandbox codebuild-project it calls (no CodeStar lookup, webhook stand-in).

data "aws_ecr_repository" "this" {
  name = var.ecr_repository
}

data "aws_ecr_repository" "secondary" {
  for_each = toset(var.secondary_ecr_repositories)

  name = each.value
}

data "aws_iam_policy_document" "ecr" {
  statement {
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetAuthorizationToken",
      "ecr:GetDownloadUrlForLayer",
      "ecr:ListImages",
    ]
    resources = ["*"]
  }

  statement {
    actions = [
      "ecr:CompleteLayerUpload",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = concat(
      [data.aws_ecr_repository.this.arn],
      [for repository in data.aws_ecr_repository.secondary : repository.arn],
    )
  }
}

resource "aws_iam_policy" "ecr" {
  name   = join("-", concat(var.namespace, [var.name, "ecr"]))
  policy = data.aws_iam_policy_document.ecr.json
}

module "project" {
  source = "../codebuild-project"

  artifacts_bucket      = var.artifacts_bucket
  buildspec             = var.buildspec
  codestar_connection   = var.codestar_connection
  enable_github_webhook = var.enable_github_webhook
  github_repository     = var.github_repository
  name                  = var.name
  namespace             = var.namespace
  privileged_mode       = true
  tags                  = var.tags

  policies = merge(var.policies, { ecr = { arn = aws_iam_policy.ecr.arn } })

  environment_variables = {
    ECR_REPOSITORY_NAME = data.aws_ecr_repository.this.name
  }
}
