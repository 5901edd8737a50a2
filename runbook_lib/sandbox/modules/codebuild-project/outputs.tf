output "instance" {
  description = "The CodeBuild project resource"
  value       = aws_codebuild_project.this
}

output "name" {
  description = "Name of the CodeBuild project"
  value       = aws_codebuild_project.this.name
}
