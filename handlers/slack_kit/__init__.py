"""The Slack protocol kit every handler package uses: ids, typed payloads, command parsing,
typed times, mrkdwn escaping, the directory (users, channels, groups), Web API errors."""
