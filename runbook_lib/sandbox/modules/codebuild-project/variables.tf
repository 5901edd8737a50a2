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

variable "enable_github_webhook" {
  description = "Whether pull requests trigger builds through a GitHub webhook"
  type        = bool
}

variable "environment_variables" {
  description = "Extra environment variables for builds"
  type        = map(string)
  default     = {}
}

variable "github_repository" {
  description = "Source repository as owner/name"
  type        = string
}

variable "name" {
  description = "Project name, joined after the namespace"
  type        = string
}

variable "namespace" {
  description = "Prefix parts joined with hyphens before the name (repeats dropped)"
  type        = list(string)
  default     = []
}

variable "policies" {
  description = "Managed policies to attach to the project's role"
  type        = map(object({ arn = string }))
  default     = {}
}

variable "privileged_mode" {
  description = "Whether builds may run Docker"
  type        = bool
  default     = false
}

variable "secondary_github_repositories" {
  description = "Further repositories (owner/name) checked out under the identifier 'source'"
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the project"
  type        = map(string)
  default     = {}
}
