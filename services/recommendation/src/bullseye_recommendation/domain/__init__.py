"""The recommendation's own words: feedback, a person's history."""
