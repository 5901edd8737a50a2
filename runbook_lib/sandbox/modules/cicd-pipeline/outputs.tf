# Upstream declares no outputs for this module, so neither does the sandbox.
