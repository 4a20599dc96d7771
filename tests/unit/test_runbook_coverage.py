"""The runbook covers every exception code and every alert: each links to a section of
docs/operations.md that says what it means, which system to check and what to do.

The alert names come from the code (the rules' table, and every ``Alert(...)`` the cycle and
the rules build), and each alert's link from the alert itself, fired."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import yaml

from returnbridge.domain.errors import ExceptionCode
from returnbridge.entrypoints.http.inbox_writer import InboxFull
from returnbridge.services import alert_rules, alerts
from returnbridge.services.alert_rules import (
    RULES,
)
from runbook_support import every_alert_fired

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "operations.md"
PROMETHEUS_RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
PARTS = ("What it means", "Which system to check", "What to do")


def sections(markdown: str) -> dict[str, str]:
    """Each heading's GitHub anchor (lower case, punctuation other than ``-`` and ``_``
    dropped, spaces to ``-``, ``-1``, ``-2`` ... on repeats) and its section: the heading and
    everything down to the next heading of the same level or higher."""
    headings: list[tuple[int, str, int]] = []  # (line, anchor, level)
    seen: dict[str, int] = {}
    lines = markdown.splitlines()
    in_code = False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        heading = re.match(r"^(#{1,6}) (.+?)\s*#*$", line)
        if in_code or not heading:
            continue
        text = heading.group(2).replace("`", "").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        headings.append((number, slug if count == 0 else f"{slug}-{count}", len(heading.group(1))))
    found = {}
    for index, (start, anchor, level) in enumerate(headings):
        end = next((n for n, _, lv in headings[index + 1 :] if lv <= level), len(lines))
        found[anchor] = "\n".join(lines[start:end])
    return found


def missing_parts(section: str) -> list[str]:
    """The parts a section lacks, as a subheading (``### What to do``) or a paragraph that
    opens with them in bold (``**What to do:**``)."""
    return [
        part
        for part in PARTS
        if not re.search(rf"^(#+ |\*\*){re.escape(part)}\b", section, flags=re.M)
    ]


@pytest.fixture(scope="module")
def runbook() -> dict[str, str]:
    return sections(RUNBOOK.read_text(encoding="utf-8"))


def names_built_in_code() -> set[str]:
    """The first argument of every ``Alert(...)`` and ``_alert(...)`` in the alert modules."""
    names = set(RULES)
    for module in (alerts, alert_rules):
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"Alert", "_alert"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
    return names


def test_the_alerts_checked_are_every_alert_the_code_can_raise() -> None:
    fired = {alert.name for alert in every_alert_fired()}
    assert fired == names_built_in_code()
    assert len(fired) >= 13


@pytest.mark.parametrize("code", list(ExceptionCode), ids=str)
def test_every_exception_code_has_a_section_that_says_what_to_do(
    runbook: dict[str, str], code: ExceptionCode
) -> None:
    section = runbook.get(code.lower())
    assert section is not None, f"docs/operations.md has no section #{code.lower()}"
    assert missing_parts(section) == [], f"#{code.lower()} lacks {missing_parts(section)}"


def test_the_webhooks_backpressure_refusal_has_a_section_that_says_what_to_do(
    runbook: dict[str, str],
) -> None:
    section = runbook.get(InboxFull.code)
    assert section is not None, f"docs/operations.md has no section #{InboxFull.code}"
    assert missing_parts(section) == [], f"#{InboxFull.code} lacks {missing_parts(section)}"
    assert "RETURNBRIDGE_INBOX_HARD_LIMIT" in section and "#queue_depth" in section


def test_every_alert_links_to_a_section_that_says_what_to_do(runbook: dict[str, str]) -> None:
    for alert in every_alert_fired():
        page, _, anchor = alert.runbook.partition("#")
        assert page == "docs/operations.md", alert.key
        assert anchor in runbook, f"{alert.key}: no section #{anchor}"
        assert missing_parts(runbook[anchor]) == [], (
            f"{alert.key}: #{anchor} lacks {missing_parts(runbook[anchor])}"
        )


def test_every_prometheus_rule_links_to_a_section_that_says_what_to_do(
    runbook: dict[str, str],
) -> None:
    document = yaml.safe_load(PROMETHEUS_RULES.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            anchor = rule["annotations"]["runbook_url"].partition("#")[2]
            assert anchor in runbook, f"{rule['alert']}: no section #{anchor}"
            assert missing_parts(runbook[anchor]) == [], (rule["alert"], anchor)


def test_sections_follow_github_anchors_and_end_at_the_next_heading_of_their_level() -> None:
    page = "# A\n## What it means\nx\n### Sub\ny\n## What it means\n```\n# no\n```\n## `X_Y`, z!\n"
    found = sections(page)
    assert set(found) == {"a", "what-it-means", "sub", "what-it-means-1", "x_y-z"}
    assert found["what-it-means"] == "## What it means\nx\n### Sub\ny"
    assert found["what-it-means-1"] == "## What it means\n```\n# no\n```"
    assert missing_parts("## X\n**What it means:** a\n### Which system to check\n") == [
        "What to do"
    ]
