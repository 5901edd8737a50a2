# Sandbox stand-in for terraform-eks-cicd//modules/deploy-role at v0.3.0
# (82ebade). Same resources; like upstream it looks the cluster up, so the cluster
# must exist in the provider's account and region (the sandbox seeds it).

data "aws_partition" "current" {}

data "aws_eks_cluster" "this" {
  name = var.cluster_name
}

locals {
  role_name   = "${var.cluster_name}-deploy"
  cluster_arn = data.aws_eks_cluster.this.arn
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
