output "arn" {
  description = "ARN of the source credential (sandbox: a NOT_EMULATED stand-in ARN)"
  value       = terraform_data.source_credential.output.arn
}
