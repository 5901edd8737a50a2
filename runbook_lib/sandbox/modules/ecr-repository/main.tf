# Sandbox stand-in for terraform-eks-cicd//modules/ecr-repository at v0.3.0
# (82ebade). Everything here runs on the emulator; nothing differs from upstream
# except that the code is the sandbox's own.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  pull_account_ids = distinct(concat([data.aws_caller_identity.current.account_id], var.workload_account_ids))
}

resource "aws_ecr_repository" "this" {
  name                 = join("/", concat(var.namespace, [var.name]))
  image_tag_mutability = "IMMUTABLE"
  tags                 = var.tags
}

resource "aws_ecr_repository" "base_mirror" {
  name                 = join("/", concat(var.namespace, ["${var.name}-base"]))
  image_tag_mutability = "IMMUTABLE"
  tags                 = var.tags
}

data "aws_iam_policy_document" "pull" {
  statement {
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]

    principals {
      type        = "AWS"
      identifiers = [for id in local.pull_account_ids : "arn:${data.aws_partition.current.partition}:iam::${id}:root"]
    }
  }
}

resource "aws_ecr_repository_policy" "pull" {
  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.pull.json
}
