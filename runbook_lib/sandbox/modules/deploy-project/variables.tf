variable "artifacts_bucket" {
  description = "Name of the S3 bucket that holds pipeline artifacts"
  type        = string
}

variable "buildspec" {
  description = "Buildspec for the project; null uses the buildspec.yml in the input artifact"
  type        = string
  default     = null
}

variable "cluster_names" {
  description = "EKS clusters whose deploy roles the project may assume"
  type        = list(string)
  default     = []
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

variable "tags" {
  description = "Tags for the project and its role"
  type        = map(string)
  default     = {}
}
