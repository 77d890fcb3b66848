"""Delivery: what sends after a commit — the outbox's Slack messages, webhook deliveries,
reminders, Home tabs. Use cases (handlers/flows) decide; these send."""
