"""releasebot sandbox: a local stand-in for a Slack workspace that drives the real bot."""
