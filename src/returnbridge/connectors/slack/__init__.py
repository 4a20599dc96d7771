"""Slack (and anything that takes Slack's incoming-webhook JSON): alert notifications."""

from returnbridge.connectors.slack.webhook import RetryPolicy, SlackWebhookNotifier, slack_message

__all__ = ["RetryPolicy", "SlackWebhookNotifier", "slack_message"]
