"""rag: a local, offline question-answering chatbot over Vietnamese documents."""

__version__ = "0.1.0"
