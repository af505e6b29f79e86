"""Feedback: signed vote links (``links``, ``target``), vote rows (``votes``), the post-booking
survey (``survey``) and feedback statistics (``stats``). The reactions to feedback live in
``core.learning``."""
