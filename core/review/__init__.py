"""Review: the review queue, admin decisions, the pre-send policy and reply delivery."""
