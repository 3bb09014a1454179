"""Notifications from the event log: the delivery worker, e-mail through SMTP, webhooks."""
