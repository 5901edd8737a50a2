output "base_mirror_name" {
  description = "Name of the repository that mirrors the base image"
  value       = aws_ecr_repository.base_mirror.name
}

output "name" {
  description = "Name of the application image repository"
  value       = aws_ecr_repository.this.name
}
