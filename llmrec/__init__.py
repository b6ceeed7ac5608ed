"""llmrec: a recommender system in which a large language model is the ranker.

The public API is a few nouns and verbs::

    data = llmrec.load_dataset()                          # Dataset: interactions + Catalog
    pipeline = llmrec.Pipeline(data, retriever="auto")    # retriever -> LLM ranker -> explainer
    recs = pipeline.recommend(42, k=10)                   # Recommendations: items, scores, explanations
    report = llmrec.evaluate(data, "popularity")          # Report: metrics, per-user ranks
    recs = pipeline.recommend(42, request="a 90s comedy, no romance")  # constraints kept, interpretation
    conv = pipeline.conversation(user=42)                 # Conversation: conv.say("not the second one")

Every registered recommender (``llmrec.registered_recommenders()``) is built by name with
``llmrec.create_recommender``.  Data flows one way: data -> histories -> retrieval -> ranking -> explanation
-> evaluation and serving; one :class:`Request` travels recall -> rank -> explain.
"""

from llmrec.converse import Conversation, Conversations, ConverseConfig, Turn
from llmrec.data import Catalog, Dataset, Interactions, load_dataset, load_movielens_100k, load_table_dataset
from llmrec.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    LLMRecError,
    LLMUnavailable,
    RecommenderOutputError,
)
from llmrec.evaluation import Report, compare_reports
from llmrec.evaluation import evaluate_recommender as evaluate
from llmrec.history import History, HistoryFormat, histories, render_history
from llmrec.items import ItemList
from llmrec.pipeline import Pipeline, Recommendations
from llmrec.recommenders import Recommender, create_recommender, register_recommender, registered_recommenders
from llmrec.request import Request
from llmrec.split import HoldoutSplit, leave_last_out

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "Catalog",
    "ConfigError",
    "Conversation",
    "Conversations",
    "ConverseConfig",
    "DataError",
    "Dataset",
    "History",
    "HistoryFormat",
    "HoldoutSplit",
    "Interactions",
    "ItemList",
    "LLMRecError",
    "LLMUnavailable",
    "Pipeline",
    "Recommendations",
    "Recommender",
    "RecommenderOutputError",
    "Report",
    "Request",
    "Turn",
    "compare_reports",
    "create_recommender",
    "evaluate",
    "histories",
    "leave_last_out",
    "load_dataset",
    "load_movielens_100k",
    "load_table_dataset",
    "register_recommender",
    "registered_recommenders",
    "render_history",
]
