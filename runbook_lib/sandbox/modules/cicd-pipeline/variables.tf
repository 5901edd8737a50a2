variable "artifacts_bucket" {
  description = "Name of the S3 bucket that holds pipeline artifacts"
  type        = string
}

variable "codestar_connection" {
  description = "Name of the SSM parameter that holds the CodeStar connection ARN"
  type        = string
}

variable "deploy_env_vars" {
  description = "Extra environment variables for every deploy action (keys are upper-cased)"
  type        = map(string)
  default     = {}
}

variable "deploy_project" {
  description = "Name of the deploy CodeBuild project"
  type        = string
}

variable "deployments" {
  description = "Deploy actions, keyed by action name"
  type = map(object({
    cluster_name  = string
    region        = string
    role_arn      = string
    manifest_path = string
  }))
}

variable "ecr_project" {
  description = "Name of the CodeBuild project that builds images"
  type        = string
}

variable "kms_key" {
  description = "KMS key (its ARN) for artifacts; null uses the bucket's default encryption"
  type        = object({ arn = string })
  default     = null
}

variable "manifests_project" {
  description = "Name of the CodeBuild project that renders manifests"
  type        = string
}

variable "manifests_repository_branch" {
  description = "Branch of the manifests repository the pipeline follows"
  type        = string
  default     = "main"
}

variable "manifests_repository_name" {
  description = "Manifests repository as owner/name"
  type        = string
}

variable "name" {
  description = "Pipeline name, joined after the namespace"
  type        = string
}

variable "namespace" {
  description = "Prefix parts joined with hyphens before the name"
  type        = list(string)
  default     = []
}

variable "source_repository_branch" {
  description = "Branch of the application repository the pipeline follows"
  type        = string
  default     = "main"
}

variable "source_repository_name" {
  description = "Application repository as owner/name"
  type        = string
}

variable "tags" {
  description = "Tags for the pipeline, its role and policy"
  type        = map(string)
  default     = {}
}
