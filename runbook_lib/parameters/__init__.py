"""Parameters: YAML files -> validated models, with every broken rule reported at once."""

from .loading import load_app, load_apps, load_org, read_yaml, validate_app_data
from .models import App, Deployment, Org, Stage

__all__ = ["App", "Deployment", "Org", "Stage", "load_app", "load_apps", "load_org", "read_yaml", "validate_app_data"]
