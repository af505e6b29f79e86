"""Review: the review queue (``queue``), decisions on its items (``decisions``), the pre-send
policy (``policy``) and reply delivery (``delivery``)."""
