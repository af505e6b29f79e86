"""Answering: the responder (retrieve, answer or escalate) and the routing that picks production or
an experiment arm."""
