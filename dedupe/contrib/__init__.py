"""Integrations with other tools; each needs its own extra (e.g. ``news-dedupe[scrapy]``)."""
