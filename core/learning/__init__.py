"""Learning: the loop. What follows a vote, a booking or a CSAT answer: the one place that fans
out to outcomes, chunk scores and the review queue (``loop``; ``chunk_votes`` is the vote path's
chunk credit); ``agent_answers`` turns a human agent's reply to a handed-off question into a KB
proposal before the weekly refresh."""
