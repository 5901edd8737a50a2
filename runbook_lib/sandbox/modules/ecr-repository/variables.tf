variable "name" {
  description = "Repository name, joined after the namespace"
  type        = string
}

variable "namespace" {
  description = "Prefix parts joined with slashes before the name"
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for both repositories"
  type        = map(string)
  default     = {}
}

variable "workload_account_ids" {
  description = "Accounts (besides this one) whose roots may pull images"
  type        = list(string)
  default     = []
}
