output "arn" {
  description = "ARN of the connection (sandbox: a NOT_EMULATED stand-in ARN)"
  value       = terraform_data.connection.output.arn
}

output "parameter" {
  description = "Name of the SSM parameter that holds the connection ARN"
  value       = aws_ssm_parameter.connection_arn.name
}
