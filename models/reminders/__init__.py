"""Reminder rows: what is due and when, sent or skipped."""
