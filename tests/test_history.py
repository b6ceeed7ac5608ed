"""Histories render as text in one place, with titles, years, genres, ratings and recency."""

import numpy as np
import pytest

from llmrec.history import History, HistoryFormat, histories, render_history


def test_histories_are_ordered_oldest_first_with_ties_by_item_id(tiny):
    h = histories(tiny.interactions)[2]
    assert h.items.tolist() == [5, 3, 1, 2]


def test_a_history_renders_one_numbered_line_per_item_with_its_facts(tiny):
    text = render_history(histories(tiny.interactions)[1], tiny.catalog)
    assert text.splitlines() == [
        "1. Movie 1 (1991) | Drama, Comedy | rated 5/5 | same day as the latest",
        "2. Movie 2 (1992) | Horror | rated 4/5 | same day as the latest",
        "3. Movie 3 (1993) | Drama, Comedy | rated 3/5 | same day as the latest",
        "4. Movie 4 (1994) | Horror | rated 2/5 | latest",
    ]


def test_only_the_most_recent_items_are_rendered(tiny):
    text = render_history(histories(tiny.interactions)[1], tiny.catalog, HistoryFormat(max_items=2))
    assert "Movie 1" not in text and "Movie 2" not in text and text.startswith("1. Movie 3")


def test_fields_can_be_switched_off_and_order_reversed(tiny):
    fmt = HistoryFormat(max_items=2, show_genres=False, show_rating=False, show_recency=False,
                        show_year=False, order="newest_first", style="compact")
    assert render_history(histories(tiny.interactions)[1], tiny.catalog, fmt) == "Movie 4; Movie 3"


def test_recency_is_written_in_days_weeks_and_months(tiny):
    day = 86400
    h = History(9, np.array([1, 2, 3, 4]), np.array([5.0, 4, 3, 2]),
                np.array([0, 100 * day, 130 * day, 133 * day]))
    lines = render_history(h, tiny.catalog, HistoryFormat(show_genres=False, show_rating=False)).splitlines()
    assert [line.split(" | ")[1] for line in lines] == [
        "4 months before the latest", "5 weeks before the latest", "3 days before the latest", "latest"]


def test_an_empty_history_renders_a_placeholder(tiny):
    assert render_history(History.empty(7), tiny.catalog) == "(no items yet)"


def test_an_invalid_length_is_refused():
    with pytest.raises(ValueError, match="max_items"):
        HistoryFormat(max_items=0)


def test_without_years_a_title_shared_by_two_items_keeps_its_year():
    import pandas as pd

    from llmrec.data import Catalog

    catalog = Catalog(pd.DataFrame({"item": [1, 2, 3], "title": ["That Darn Cat!", "That Darn Cat!", "Fargo"],
                                    "year": [1965, 1997, 1996], "genres": ["Comedy"] * 3}).set_index("item"))
    h = History(1, np.array([1, 2, 3]), np.array([5.0, 4, 3]), np.array([0, 1, 2]))
    fmt = HistoryFormat(show_year=False, show_genres=False, show_rating=False, show_recency=False,
                        style="compact")
    assert render_history(h, catalog, fmt) == "That Darn Cat! (1965); That Darn Cat! (1997); Fargo"
