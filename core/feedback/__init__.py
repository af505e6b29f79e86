"""Feedback: signed vote links, votes, the post-booking survey and feedback statistics."""
