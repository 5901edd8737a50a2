# Sandbox stand-in for terraform-eks-cicd//modules/deploy-role at v0.3.0
# (82ebade). Differs: the cluster ARN in the policy is built from the account and
# region instead of looked up, so the cluster need not exist in the emulator.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  role_name   = "${var.cluster_name}-deploy"
  cluster_arn = "arn:${data.aws_partition.current.partition}:eks:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:cluster/${var.cluster_name}"
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [for id in var.deployment_account_ids : "arn:${data.aws_partition.current.partition}:iam::${id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:PrincipalTag/cluster.${var.cluster_name}.deploy"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.role_name
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = merge(var.tags, { deployTo = var.cluster_name })
}

data "aws_iam_policy_document" "eks" {
  statement {
    effect    = "Allow"
    actions   = ["eks:DescribeCluster"]
    resources = [local.cluster_arn]
  }
}

resource "aws_iam_role_policy" "eks" {
  name   = local.role_name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.eks.json
}
