"""The servers layer: ``llmrec serve``, conversational recommendations over HTTP (a JSON API and an
OpenAI-compatible chat facade) on top of a :class:`~llmrec.converse.turn.Converser`.  It imports ``llmrec``;
nothing imports it."""

from service.app import MODEL_ID, ServiceConfig, create_app

__all__ = ["MODEL_ID", "ServiceConfig", "create_app"]
