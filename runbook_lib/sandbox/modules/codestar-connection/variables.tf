variable "name" {
  description = "Name of the connection"
  type        = string
}

variable "provider_type" {
  description = "Provider of the connection, such as GitHub"
  type        = string
}

variable "tags" {
  description = "Tags for the connection"
  type        = map(string)
  default     = {}
}
