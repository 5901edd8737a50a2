output "instance" {
  description = "The CodeBuild project resource"
  value       = module.project.instance
}

output "name" {
  description = "Name of the CodeBuild project"
  value       = module.project.name
}
