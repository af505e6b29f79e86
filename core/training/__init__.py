"""Training: PII-free fine-tuning datasets and fine-tune jobs (OpenAI or a local embedding fine-
tune)."""
