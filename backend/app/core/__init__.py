"""The application's infrastructure shared by every package: migrations, readiness probes,
time zones."""
