"""Pure functions that build Block Kit with slack_sdk.models (which enforces Slack's limits)."""
