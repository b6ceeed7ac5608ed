"""llmrec: a recommender system in which a large language model is the ranker.

Data flows one way: data -> histories -> retrieval -> ranking -> explanation -> eval / serving.
"""

from llmrec.data import Catalog, Dataset, Interactions, load_dataset, load_movielens_100k, load_table_dataset
from llmrec.errors import ArtifactError, ConfigError, DataError, LLMRecError, RecommenderOutputError
from llmrec.history import History, HistoryFormat, histories, render_history
from llmrec.items import ItemList
from llmrec.recommenders import Recommender, create_recommender, registered_recommenders
from llmrec.split import HoldoutSplit, leave_last_out

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "Catalog",
    "ConfigError",
    "DataError",
    "Dataset",
    "History",
    "HistoryFormat",
    "HoldoutSplit",
    "Interactions",
    "ItemList",
    "LLMRecError",
    "Recommender",
    "RecommenderOutputError",
    "create_recommender",
    "histories",
    "leave_last_out",
    "load_dataset",
    "load_movielens_100k",
    "load_table_dataset",
    "registered_recommenders",
    "render_history",
]
