"""Recommenders: the protocol, its registry, and the classical baselines."""

from llmrec.recommenders.base import (
    Recommender,
    RecommenderConfig,
    Retriever,
    check_n,
    create_recommender,
    recommender_class,
    register_recommender,
    registered_recommenders,
)
from llmrec.recommenders.itemknn import ItemKNN, ItemKNNConfig
from llmrec.recommenders.popularity import Popularity, PopularityConfig

__all__ = ["ItemKNN", "ItemKNNConfig", "Popularity", "PopularityConfig", "Recommender", "RecommenderConfig",
           "Retriever", "check_n", "create_recommender", "recommender_class", "register_recommender",
           "registered_recommenders"]
