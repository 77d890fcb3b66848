"""Slack listeners: one `register(app, deps)` per surface (commands, actions, views,
events). They parse with handlers/slack_kit, call a use case, and render."""
