"""Access: dashboard accounts, roles and sessions (auth) and API keys for channels and the metrics
API."""
