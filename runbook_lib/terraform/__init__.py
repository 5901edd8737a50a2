"""Running the Terraform CLI: finding it, configuring it, and (in runner) its verbs."""
