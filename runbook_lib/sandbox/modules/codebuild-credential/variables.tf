variable "provider_type" {
  description = "Source provider: GitHub or Bitbucket"
  type        = string

  validation {
    condition     = contains(["GitHub", "Bitbucket"], var.provider_type)
    error_message = "The provider_type must be GitHub or Bitbucket."
  }
}

variable "token_parameter" {
  description = "Name of the SSM parameter that holds the token or password"
  type        = string
}

variable "username" {
  description = "User name (Bitbucket only)"
  type        = string
  default     = null
}
