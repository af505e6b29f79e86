"""Enrichment: intents, profanity and abuse flags, tone scores, and knowledge gaps."""
