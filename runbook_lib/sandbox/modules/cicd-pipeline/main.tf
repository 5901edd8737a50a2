# Sandbox stand-in for terraform-eks-cicd//modules/cicd-pipeline at v0.3.0
# (82ebade). Differs: the connection ARN is taken from the SSM parameter as is (no
# CodeStar lookup); the emulator needs moto_patches to read pipelines back.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_s3_bucket" "artifacts" {
  bucket = var.artifacts_bucket
}

# Upstream also passes this value through a CodeStar connection lookup; the
# emulator has no CodeStar Connections, so the parameter's value is used directly.
data "aws_ssm_parameter" "codestar_connection" {
  name = var.codestar_connection
}

locals {
  pipeline_name  = join("-", concat(var.namespace, [var.name]))
  role_name      = join("-", concat(var.namespace, [var.name, "pipeline"]))
  connection_arn = data.aws_ssm_parameter.codestar_connection.insecure_value

  project_arn_prefix = "arn:aws:codebuild:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:project"

  project_arns = [
    for project in [var.deploy_project, var.ecr_project, var.manifests_project] :
    "${local.project_arn_prefix}/${project}"
  ]

  extra_deploy_env = [
    for key, value in var.deploy_env_vars : { name = upper(key), value = value }
  ]
}

resource "aws_codepipeline" "this" {
  name     = local.pipeline_name
  role_arn = aws_iam_role.pipeline.arn
  tags     = var.tags

  artifact_store {
    type     = "S3"
    location = data.aws_s3_bucket.artifacts.bucket

    dynamic "encryption_key" {
      for_each = var.kms_key == null ? [] : [var.kms_key.arn]

      content {
        type = "KMS"
        id   = encryption_key.value
      }
    }
  }

  stage {
    name = "Source"

    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = "CodeStarSourceConnection"
      version          = "1"
      output_artifacts = ["source"]

      configuration = {
        ConnectionArn        = local.connection_arn
        FullRepositoryId     = var.source_repository_name
        BranchName           = var.source_repository_branch
        OutputArtifactFormat = "CODEBUILD_CLONE_REF"
      }
    }

    action {
      name             = "Manifests"
      category         = "Source"
      owner            = "AWS"
      provider         = "CodeStarSourceConnection"
      version          = "1"
      output_artifacts = ["manifests"]

      configuration = {
        ConnectionArn        = local.connection_arn
        FullRepositoryId     = var.manifests_repository_name
        BranchName           = var.manifests_repository_branch
        OutputArtifactFormat = "CODEBUILD_CLONE_REF"
      }
    }
  }

  stage {
    name = "Build"

    action {
      name            = "Docker"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["source"]

      configuration = {
        ProjectName = var.ecr_project
      }
    }

    action {
      name             = "Manifests"
      category         = "Build"
      owner            = "AWS"
      provider         = "CodeBuild"
      version          = "1"
      input_artifacts  = ["manifests", "source"]
      output_artifacts = ["compiled_manifests"]

      configuration = {
        ProjectName   = var.manifests_project
        PrimarySource = "manifests"
      }
    }
  }

  stage {
    name = "Deploy"

    dynamic "action" {
      for_each = var.deployments

      content {
        name            = action.key
        category        = "Build"
        owner           = "AWS"
        provider        = "CodeBuild"
        version         = "1"
        input_artifacts = ["compiled_manifests"]

        configuration = {
          ProjectName = var.deploy_project
          EnvironmentVariables = jsonencode(concat(
            [
              { name = "DEPLOY_ROLE_ARN", value = action.value.role_arn },
              { name = "EKS_CLUSTER_NAME", value = action.value.cluster_name },
              { name = "EKS_CLUSTER_REGION", value = action.value.region },
              { name = "MANIFEST_PATH", value = action.value.manifest_path },
            ],
            local.extra_deploy_env,
          ))
        }
      }
    }
  }
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codepipeline.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = local.role_name
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = var.tags
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    sid = "UseArtifactsBucket"
    actions = [
      "s3:CopyObject*",
      "s3:DeleteObject*",
      "s3:Get*",
      "s3:List*",
      "s3:Put*",
    ]
    resources = [data.aws_s3_bucket.artifacts.arn, "${data.aws_s3_bucket.artifacts.arn}/*"]
  }

  dynamic "statement" {
    for_each = var.kms_key == null ? [] : [var.kms_key.arn]

    content {
      sid = "DecryptBucket"
      actions = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
      ]
      resources = [statement.value]
    }
  }

  statement {
    sid = "StartCodeBuild"
    actions = [
      "codebuild:BatchGetBuildBatches",
      "codebuild:BatchGetBuilds",
      "codebuild:StartBuild",
      "codebuild:StartBuildBatch",
    ]
    resources = local.project_arns
  }

  statement {
    sid       = "UseCodeStarConnection"
    actions   = ["codestar-connections:UseConnection"]
    resources = [local.connection_arn]
  }
}

resource "aws_iam_policy" "pipeline" {
  name   = local.role_name
  policy = data.aws_iam_policy_document.pipeline.json
  tags   = var.tags
}

resource "aws_iam_role_policy_attachment" "pipeline" {
  role       = aws_iam_role.pipeline.name
  policy_arn = aws_iam_policy.pipeline.arn
}
