"""User accounts: users, their per-user settings, resolved integrations and secret encryption."""
