"""Operations on releases that every surface calls (Slack now, the API later), and
what follows a change: the outbox of Slack messages, Home tabs, reminders."""
