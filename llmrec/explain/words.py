"""How explanations write catalog facts: genres as a sentence names them."""

from __future__ import annotations

__all__ = ["genre_words"]


def genre_words(genres: tuple[str, ...] | list[str]) -> str:
    """Genres as a sentence writes them: ``"action, sci-fi and film noir"``."""
    words = [g.lower().replace("film-noir", "film noir") for g in genres]
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
