# Sandbox stand-in for terraform-eks-cicd//modules/deploy-project at v0.3.0
# (82ebade). Nothing differs from upstream; the emulator needs a server-side fix
# (moto_patches) to accept CODEPIPELINE source and artifacts without a location.

locals {
  project_name = join("-", distinct(concat(var.namespace, [var.name])))

  cluster_tags = { for cluster in var.cluster_names : "cluster.${cluster}.deploy" => "true" }
}

resource "aws_codebuild_project" "this" {
  name          = local.project_name
  build_timeout = 20
  service_role  = aws_iam_role.codebuild.arn
  tags          = var.tags

  artifacts {
    type = "CODEPIPELINE"
  }

  environment {
    type            = "LINUX_CONTAINER"
    compute_type    = "BUILD_GENERAL1_SMALL"
    image           = "aws/codebuild/standard:5.0"
    privileged_mode = false
  }

  source {
    type      = "CODEPIPELINE"
    buildspec = var.buildspec
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
  tags               = merge(var.tags, local.cluster_tags)
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
    sid       = "AssumeDeployRoles"
    actions   = ["sts:AssumeRole"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "iam:ResourceTag/deployTo"
      values   = var.cluster_names
    }
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
