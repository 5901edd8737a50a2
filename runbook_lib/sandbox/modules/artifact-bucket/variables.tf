variable "kms_key" {
  description = "KMS key (its id) for default encryption; null means AES256"
  type        = object({ id = string })
  default     = null
}

variable "name" {
  description = "Bucket name, joined after the namespace"
  type        = string

  # Same acceptance rule as upstream: a lower-case letter, then 2-63 more
  # lower-case letters, digits, dots or hyphens.
  validation {
    condition     = length(var.name) >= 3 && length(var.name) <= 64 && can(regex("^[a-z][-.a-z0-9]*$", var.name))
    error_message = "The bucket name must start with a lower-case letter and be 3-64 characters of lower-case letters, digits, dots and hyphens."
  }
}

variable "namespace" {
  description = "Prefix parts joined with hyphens before the name"
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the bucket"
  type        = map(string)
  default     = {}
}
