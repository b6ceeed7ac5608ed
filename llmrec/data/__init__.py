"""Datasets: interactions plus an item catalog, and loaders for MovieLens and generic tables."""

from llmrec.data._dataset import Catalog, Dataset, Interactions
from llmrec.data.load import default_data_path, load_dataset
from llmrec.data.movielens import load_movielens_100k
from llmrec.data.tabular import load_table_dataset

__all__ = ["Catalog", "Dataset", "Interactions", "default_data_path", "load_dataset", "load_movielens_100k",
           "load_table_dataset"]
