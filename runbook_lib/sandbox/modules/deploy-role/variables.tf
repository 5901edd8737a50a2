variable "cluster_name" {
  description = "Name of the EKS cluster this role deploys to"
  type        = string
}

variable "deployment_account_ids" {
  description = "Accounts whose deploy projects may assume this role"
  type        = list(string)
}

variable "tags" {
  description = "Tags for the role"
  type        = map(string)
  default     = {}
}
