"""Demo: the deterministic demo business (Ember Grill Hibachi): its facts (``business``), its
conversations (``conversations``), its knowledge base (``knowledge``), loading them
(``loader``) and the learning-loop warm-up over them (``warmup``)."""
