"""Platform: what every domain stands on (settings, clock, errors, database and models, signing,
audit and event logs, notifier, embedder, PII scrubber). Imports no other core package."""
