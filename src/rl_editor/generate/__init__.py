"""Candidate generation: several edits per song at several temperatures, with a manifest."""
