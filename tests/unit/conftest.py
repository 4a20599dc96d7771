"""Fixtures for the unit tests: the shipped mappings, a small catalog, hand-made events."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from factories import ZigZagStory, small_catalog

from returnbridge.domain.catalog import Catalog
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.mappings import Mappings
from returnbridge.domain.returns import fold_case
from returnbridge.domain.routing import CaseOutcome, evaluate_case
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS, read_mappings


@pytest.fixture(scope="session")
def shipped_mappings() -> Mappings:
    return read_mappings(DEFAULT_MAPPINGS)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return small_catalog()


@pytest.fixture
def zz() -> ZigZagStory:
    return ZigZagStory()


@pytest.fixture
def outcome_of(catalog: Catalog, shipped_mappings: Mappings) -> Callable[..., CaseOutcome]:
    """Fold the given events into their case and evaluate it."""

    def evaluate(*events: ReturnEvent) -> CaseOutcome:
        facts = fold_case(events[0].case_key, events)
        return evaluate_case(facts, catalog, shipped_mappings)

    return evaluate
