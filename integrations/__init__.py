"""The integrations layer: the conversational recommender inside other frameworks (LangChain:
:mod:`integrations.langchain`).  It imports ``llmrec`` and ``retrieval``; nothing imports it, so the core
never loads a framework it does not need."""
