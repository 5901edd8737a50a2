# Sandbox stand-in for terraform-eks-cicd//modules/codebuild-project at v0.3.0
# (82ebade). Differs: the connection ARN is taken from the SSM parameter as is (no
# CodeStar lookup), and the GitHub webhook is a labelled terraform_data record.

data "aws_caller_identity" "current" {}

# Upstream also passes this value through a CodeStar connection lookup; the
# emulator has no CodeStar Connections, so the parameter's value is used directly.
data "aws_ssm_parameter" "codestar_connection" {
  name = var.codestar_connection
}

locals {
  project_name   = join("-", distinct(concat(var.namespace, [var.name])))
  connection_arn = data.aws_ssm_parameter.codestar_connection.insecure_value
}

resource "aws_codebuild_project" "this" {
  name          = local.project_name
  build_timeout = 20
  service_role  = aws_iam_role.codebuild.arn
  tags          = var.tags

  artifacts {
    type = "NO_ARTIFACTS"
  }

  environment {
    type            = "LINUX_CONTAINER"
    compute_type    = "BUILD_GENERAL1_SMALL"
    image           = "aws/codebuild/standard:5.0"
    privileged_mode = var.privileged_mode

    environment_variable {
      name  = "AWS_ACCOUNT_ID"
      value = data.aws_caller_identity.current.account_id
    }

    dynamic "environment_variable" {
      for_each = var.environment_variables

      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  source {
    type      = "GITHUB"
    location  = "https://github.com/${var.github_repository}.git"
    buildspec = var.buildspec
  }

  dynamic "secondary_sources" {
    for_each = var.secondary_github_repositories

    content {
      type              = "GITHUB"
      location          = "https://github.com/${secondary_sources.value}.git"
      source_identifier = "source"
    }
  }
}

# NOT_EMULATED stand-in: moto has no CodeBuild CreateWebhook, so
# aws_codebuild_webhook cannot be created. This record keeps the project and
# the filter a real webhook would have; no pull request will ever trigger it.
resource "terraform_data" "webhook" {
  count = var.enable_github_webhook ? 1 : 0

  input = {
    status       = "NOT_EMULATED"
    project_name = aws_codebuild_project.this.name
    filter_group = [
      [{ type = "EVENT", pattern = "PULL_REQUEST_CREATED,PULL_REQUEST_UPDATED" }],
    ]
  }
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codebuild.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codebuild" {
  name               = local.project_name
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
}

data "aws_iam_policy_document" "codebuild" {
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["*"]
  }

  statement {
    sid       = "ListArtifacts"
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.artifacts_bucket}"]
  }

  statement {
    sid       = "ReadWriteArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["arn:aws:s3:::${var.artifacts_bucket}/*"]
  }

  statement {
    sid       = "UseCodeStarConnection"
    actions   = ["codestar-connections:UseConnection"]
    resources = [local.connection_arn]
  }
}

resource "aws_iam_role_policy" "codebuild" {
  name   = local.project_name
  role   = aws_iam_role.codebuild.id
  policy = data.aws_iam_policy_document.codebuild.json
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = var.policies

  role       = aws_iam_role.codebuild.name
  policy_arn = each.value.arn
}
