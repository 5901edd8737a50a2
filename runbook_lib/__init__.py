"""eks-cicd-runbooks: parameters -> Terraform root modules and buildspecs -> checks.

The package follows the runbook's flow, one module per stage:
``parameters`` (load and validate YAML), ``render`` (root modules and
buildspecs), ``validate`` (static checks of what was rendered), and the
``cli`` on top.
"""

__version__ = "0.1.0"
