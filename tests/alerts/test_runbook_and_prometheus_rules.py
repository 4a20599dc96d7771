"""Every alert has its row and its section in the runbook, every link lands on a heading, and
the Prometheus rules shipped in deploy/ match the built-in alerts."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from alerts_support import ROOT, RUNBOOK, github_anchors, runbook_anchors

from returnbridge.services.alert_rules import (
    RULES,
)
from runbook_support import every_alert_fired

PROMETHEUS_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRICS_DOC = ROOT / "docs" / "metrics.md"
CYCLE_ALERTS = {"AMAZON_REJECTED", "AMAZON_STUCK", "CREDIT_OVERSTATED", "AMAZON_THROTTLED"}


def alerts_section() -> str:
    text = RUNBOOK.read_text(encoding="utf-8")
    start = text.index("\n## Alerts and dashboards\n")
    after = text.find("\n## ", start + 1)
    return text[start : after if after != -1 else len(text)]


def test_every_alert_links_to_a_runbook_heading_that_exists() -> None:
    anchors = runbook_anchors()
    alerts = every_alert_fired()
    assert {a.name for a in alerts} == set(RULES) | CYCLE_ALERTS | {"AMAZON_UNREACHABLE"}
    for alert in alerts:
        page, _, anchor = alert.runbook.partition("#")
        assert page == "docs/operations.md", alert
        assert anchor in anchors, f"{alert.key}: no heading for #{anchor} in the runbook"


def test_every_alert_has_a_row_in_the_alerts_table_and_each_new_one_a_section() -> None:
    section = alerts_section()
    rows = set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.M))
    assert rows >= set(RULES) | CYCLE_ALERTS | {"AMAZON_UNREACHABLE"}
    headings = github_anchors(section)
    for name in set(RULES) - {"RFS_NOT_RECEIVED"}:  # that one is the exception's own section
        assert name.lower() in headings, f"no section for {name} under Alerts and dashboards"


def test_every_link_of_the_alerts_section_lands_on_a_heading() -> None:
    anchors = runbook_anchors()
    for anchor in re.findall(r"\]\(#([^)]+)\)", alerts_section()):
        assert anchor in anchors, f"#{anchor} is no heading of the runbook"


def test_anchors_follow_github() -> None:
    page = "# A\n## What it means\n## What it means\n```\n# not a heading\n```\n## `X_Y`, z!\n"
    assert github_anchors(page) == {"a", "what-it-means", "what-it-means-1", "x_y-z"}


@pytest.fixture(scope="module")
def prometheus_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(PROMETHEUS_RULES.read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    rules: list[dict[str, Any]] = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"]
        rules += group["rules"]
    return rules


def test_the_prometheus_rules_are_well_formed_and_link_to_the_runbook(
    prometheus_rules: list[dict[str, Any]],
) -> None:
    anchors = runbook_anchors()
    for rule in prometheus_rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Z_]+", rule["alert"])
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert rule["expr"].count("(") == rule["expr"].count(")")
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert page == "docs/operations.md"
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor}"


def test_the_prometheus_rules_cover_every_built_in_alert_at_its_severity(
    prometheus_rules: list[dict[str, Any]],
) -> None:
    names = {rule["alert"] for rule in prometheus_rules}
    # AMAZON_UNREACHABLE is kept as PARTNER_UNREACHABLE{partner="amazon"}.
    assert names == set(RULES) | CYCLE_ALERTS
    for rule in prometheus_rules:
        expected = RULES.get(rule["alert"], "warning")
        if rule["alert"] == "QUEUE_AGE" and rule["labels"].get("queue") == "inbox":
            expected = "critical"
        assert rule["labels"]["severity"] == expected, rule["alert"]


def test_every_metric_the_rules_read_is_documented(
    prometheus_rules: list[dict[str, Any]],
) -> None:
    documented = set(re.findall(r"`(returnbridge_[a-z_]+)`", METRICS_DOC.read_text("utf-8")))
    for rule in prometheus_rules:
        for metric in re.findall(r"\breturnbridge_[a-z_]+", rule["expr"]):
            assert metric in documented, f"{rule['alert']} reads {metric}: not in docs/metrics.md"
