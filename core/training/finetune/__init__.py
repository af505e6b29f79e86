"""Fine-tunes of approved datasets: one provider interface, launch with preflight, monitoring.

- ``provider``: the interface every provider implements (``submit``, ``check``, ``cancel``:
  one step each, never waiting) and the plain data it is given and answers.
- ``openai_provider`` (upload the files, create the job on the base model, read status and
  events, cancel; the real ``openai`` client) and ``local_provider`` (fine-tune the embedding
  model on the dataset's question/answer pairs on the CPU; no API key needed); ``factory``
  gives them by name.
- ``local_run``: a local fine-tune trained in the job runner (progress per step, cancel between
  steps), saved as a new embedding model version, with a candidate KB version built with it
  through the KB evaluation gate.
- ``preflight``: minimum examples, cost estimate, quarterly budget.
- ``launch``: ``launch`` / ``cancel`` (the ``launch_finetune`` right) and ``check_launch``.
- ``polling``: ``poll`` advances every open job once (the job runner's ``finetune_poll``).
- ``jobs``: the job rows, applying a provider's answer, and the candidates a succeeded job
  offers to experiments (``experiment_candidates``, ``mark_candidate``).
"""
