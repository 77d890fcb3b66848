"""Slack listeners (one `register(app, deps)` per surface) and what they share:
ids, typed payloads, command parsing, mrkdwn escaping, the directory."""
