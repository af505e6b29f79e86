"""Conversations: the data shapes, file importers, ingest, outcomes, retention and read queries."""
