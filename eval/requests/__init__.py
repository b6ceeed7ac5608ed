"""The request templates of the conversational benchmark, registered in :data:`TEMPLATES` on import."""

from eval.requests import constraints, items, language, multilingual  # noqa: F401 (they register)
from eval.requests.world import TEMPLATES, Case, Template

__all__ = ["TEMPLATES", "Case", "Template"]
