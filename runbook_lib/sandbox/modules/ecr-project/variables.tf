variable "artifacts_bucket" {
  description = "Name of the S3 bucket that holds pipeline artifacts"
  type        = string
}

variable "buildspec" {
  description = "Buildspec for the project; null uses the repository's buildspec.yml"
  type        = string
  default     = null
}

variable "codestar_connection" {
  description = "Name of the SSM parameter that holds the CodeStar connection ARN"
  type        = string
}

variable "ecr_repository" {
  description = "Name of the ECR repository the build pushes to"
  type        = string
}

variable "enable_github_webhook" {
  description = "Whether pull requests trigger builds through a GitHub webhook"
  type        = bool
  default     = true
}

variable "github_repository" {
  description = "Application repository as owner/name"
  type        = string
}

variable "name" {
  description = "Project name, joined after the namespace"
  type        = string
}

variable "namespace" {
  description = "Prefix parts joined with hyphens before the name"
  type        = list(string)
  default     = []
}

variable "policies" {
  description = "Further managed policies to attach to the project's role"
  type        = map(object({ arn = string }))
  default     = {}
}

variable "secondary_ecr_repositories" {
  description = "Further ECR repositories the build may push to"
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the project"
  type        = map(string)
  default     = {}
}
