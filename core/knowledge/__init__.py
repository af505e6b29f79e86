"""Knowledge: KB chunks (``chunks``), their performance score (``scoring``) and stale flags
(``staleness``), index files and search (``index``), versions (``versions``), the evaluation set
and gate (``evaluation``, ``confidence``) and the weekly refresh (``refresh``)."""
