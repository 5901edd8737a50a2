# Sandbox stand-in for terraform-codestar-setup//modules/codestar-connection at
# main (316926e). Differs: the emulator has no CodeStar Connections, so the
# connection is a labelled terraform_data record; the SSM parameter is real.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

# NOT_EMULATED stand-in: moto has no CodeStar Connections (codestar-connections /
# codeconnections) API, so aws_codestarconnections_connection cannot be created.
# The ARN says "not-emulated" so no check can mistake it for a real connection,
# and there is no GitHub handshake to complete: it never becomes AVAILABLE.
resource "terraform_data" "connection" {
  input = {
    status        = "NOT_EMULATED"
    arn           = "arn:${data.aws_partition.current.partition}:codestar-connections:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:connection/not-emulated-${var.name}"
    name          = var.name
    provider_type = var.provider_type
    tags          = var.tags
  }
}

# Real resource: the parameter the other modules read the connection ARN from.
resource "aws_ssm_parameter" "connection_arn" {
  name  = "/codestar_connection/${var.provider_type}/${var.name}"
  type  = "String"
  value = terraform_data.connection.output.arn
}
