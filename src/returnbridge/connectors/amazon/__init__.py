"""Amazon Vendor Central: inbound facts (refunds at first scan)."""
