"""One parser per document format; ``core.ingest.parse`` is the public entry point."""
