"""Platform: what every domain stands on. Imports no other core package.

settings (config, config_doc), clock, errors, database (db) and the models package, the vocabulary
(statuses) and acting users (actors), signing, the audit and event logs, the injected services
(services: Protocols; embeddings, pii + pii_recognizers, notify: implementations) and
near-duplicate detection.
"""
