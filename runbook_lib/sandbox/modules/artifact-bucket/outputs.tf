output "arn" {
  description = "ARN of the artifact bucket"
  value       = aws_s3_bucket.this.arn
}

output "name" {
  description = "Name of the artifact bucket"
  value       = aws_s3_bucket.this.bucket
}
