"""The subscribable release calendar: links (tokens) and what each feed shows."""
