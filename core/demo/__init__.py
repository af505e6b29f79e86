"""Demo: the deterministic demo business (Ember Grill Hibachi) and its learning-loop warm-up."""
