"""Loaders read MovieLens-100K and generic tables; malformed input names the file and line."""

import shutil

import pandas as pd
import pytest

from llmrec.data import load_dataset, load_movielens_100k, load_table_dataset
from llmrec.data.movielens import natural_title
from llmrec.errors import DataError


def test_movielens_100k_loads_every_rating_user_and_item(ml100k):
    assert len(ml100k.interactions) == 100_000
    assert len(ml100k.interactions.users) == 943
    assert len(ml100k.catalog) == 1682


def test_movielens_items_carry_natural_titles_years_and_genres(ml100k):
    cat = ml100k.catalog
    assert cat.display_title(1) == "Toy Story (1995)"
    assert cat.genres(1) == ("Animation", "Children's", "Comedy")
    assert cat.title(12) == "The Usual Suspects" and cat.year(12) == 1995


def test_latin1_titles_are_decoded(ml100k):
    assert any("é" in t for t in ml100k.catalog.frame["title"])


@pytest.mark.parametrize("raw, expected", [
    ("Usual Suspects, The (1995)", ("The Usual Suspects", 1995)),
    ("Toy Story (1995)", ("Toy Story", 1995)),
    ("City of Lost Children, The (1995)", ("The City of Lost Children", 1995)),
    ("Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)",
     ("Shanghai Triad (Yao a yao yao dao waipo qiao)", 1995)),
    ("unknown", ("unknown", None)),
])
def test_natural_title_moves_articles_and_splits_the_year(raw, expected):
    assert natural_title(raw) == expected


@pytest.fixture
def ml_copy(tmp_path, ml100k):
    src = ml100k.source["path"]
    dst = tmp_path / "ml-100k"
    dst.mkdir()
    for name in ("u.data", "u.item", "u.genre"):
        shutil.copy(f"{src}/{name}", dst / name)
    return dst


def _edit_line(path, lineno, new, encoding="utf-8"):
    lines = path.read_text(encoding=encoding).splitlines(keepends=True)
    lines[lineno - 1] = new
    path.write_text("".join(lines), encoding=encoding)


def test_a_missing_directory_says_where_and_how_to_download(tmp_path):
    with pytest.raises(DataError, match=r"nope.*download"):
        load_movielens_100k(tmp_path / "nope")


def test_a_missing_item_file_is_named(ml_copy):
    (ml_copy / "u.item").unlink()
    with pytest.raises(DataError, match=r"u\.item: file not found"):
        load_movielens_100k(ml_copy)


@pytest.mark.parametrize(("file", "line", "text", "message"), [
    ("u.data", 7, "1\t2\t3\n", r"u\.data, line 7: expected 4 tab-separated fields"),
    ("u.data", 3, "1\tabc\t3\t881250949\n", r"u\.data, line 3: bad value"),
    ("u.data", 11, "1\t99999\t3\t881250949\n", r"u\.data, line 11: unknown item id 99999"),
    ("u.item", 5, "5|Copycat (1995)|01-Jan-1995\n", r"u\.item, line 5: expected 24"),
])
def test_a_malformed_line_is_an_error_naming_file_and_line(ml_copy, file, line, text, message):
    _edit_line(ml_copy / file, line, text, **({"encoding": "latin-1"} if file == "u.item" else {}))
    with pytest.raises(DataError, match=message):
        load_movielens_100k(ml_copy)


def test_verify_rejects_a_copy_that_fails_the_official_checksum(ml_copy):
    _edit_line(ml_copy / "u.data", 1, "196\t242\t4\t881250949\n")
    load_movielens_100k(ml_copy)  # readable...
    with pytest.raises(DataError, match="checksum mismatch"):
        load_movielens_100k(ml_copy, verify=True)  # ...but not the official data


@pytest.fixture
def tables(tmp_path):
    inter = tmp_path / "ratings.csv"
    inter.write_text("user,item,rating,timestamp\n1,10,5,100\n1,20,3,200\n2,10,4,150\n")
    items = tmp_path / "items.csv"
    items.write_text('item,title,year,genres,plot\n10,Alpha,1999,Drama|Crime,"A, plot"\n20,Beta,,Comedy,\n')
    return inter, items


def test_csv_tables_load_with_free_text_columns(tables):
    ds = load_table_dataset(*tables)
    assert len(ds.interactions) == 3
    assert ds.catalog.genres(10) == ("Drama", "Crime")
    assert ds.catalog.year(20) is None
    assert ds.catalog.text_columns == ["plot"] and ds.catalog.frame.at[10, "plot"] == "A, plot"


def test_parquet_tables_load(tables, tmp_path):
    for p in tables:
        pd.read_csv(p).to_parquet(p.with_suffix(".parquet"))
    ds = load_table_dataset(tables[0].with_suffix(".parquet"), tables[1].with_suffix(".parquet"))
    assert len(ds.interactions) == 3 and len(ds.catalog) == 2


def test_load_dataset_dispatches_on_items(tables):
    assert len(load_dataset(tables[0], tables[1]).catalog) == 2


@pytest.mark.parametrize(("second_row", "message"), [
    ("1,20,3,200,9", r"ratings\.csv: wrong column count.*line 3"),  # a row with extra fields
    ("1,30,3,200", r"ratings\.csv, line 3: unknown item id 30"),
    ("bob,20,3,200", r"ratings\.csv, line 3: column 'user' has a non-numeric value 'bob'"),
])
def test_a_bad_table_row_is_an_error_naming_file_and_line(tables, second_row, message):
    inter, items = tables
    inter.write_text(f"user,item,rating,timestamp\n1,10,5,100\n{second_row}\n")
    with pytest.raises(DataError, match=message):
        load_table_dataset(inter, items)


def test_a_missing_column_is_named(tables):
    inter, items = tables
    items.write_text("item,name\n10,Alpha\n")
    with pytest.raises(DataError, match=r"items\.csv: missing column\(s\) \['title'"):
        load_table_dataset(inter, items)
