"""A release and its rules: tables, state machine, proposals, sign-offs, rollout."""
