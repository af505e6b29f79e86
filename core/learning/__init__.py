"""Learning: the loop. What follows a vote, a booking, a CSAT answer or an answer: the one place
that fans out to outcomes, chunk scores and the review queue."""
