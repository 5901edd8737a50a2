# Sandbox stand-in for terraform-codestar-setup//modules/codebuild-credential at
# main (316926e). Differs: the emulator has no CodeBuild source-credential API, so
# the credential is a labelled terraform_data record; the token is still read.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

# The token is read exactly as upstream reads it, so a missing or unreadable
# parameter fails here as it would on AWS.
data "aws_ssm_parameter" "token" {
  name            = var.token_parameter
  with_decryption = true
}

locals {
  # Keyed as upstream keys them: "BitBucket", while the validation accepts
  # "Bitbucket". Only "GitHub" resolves, on AWS and here alike.
  auth_type_by_provider = {
    GitHub    = "PERSONAL_ACCESS_TOKEN"
    BitBucket = "BASIC_AUTH"
  }

  server_type_by_provider = {
    GitHub    = "GITHUB"
    BitBucket = "BITBUCKET"
  }

  auth_type   = local.auth_type_by_provider[var.provider_type]
  server_type = local.server_type_by_provider[var.provider_type]
}

# NOT_EMULATED stand-in: moto has no CodeBuild ImportSourceCredentials /
# ListSourceCredentials, so aws_codebuild_source_credential cannot be created.
# This record keeps what would have been sent, minus the token itself: only the
# parameter's name and version are kept, and a new version replaces the record
# the way a rotated token would replace the credential.
resource "terraform_data" "source_credential" {
  input = {
    status          = "NOT_EMULATED"
    arn             = "arn:${data.aws_partition.current.partition}:codebuild:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:token/not-emulated-${lower(local.server_type)}"
    auth_type       = local.auth_type
    server_type     = local.server_type
    user_name       = var.username
    token_parameter = data.aws_ssm_parameter.token.name
  }

  triggers_replace = [data.aws_ssm_parameter.token.version]
}
