"""Renderers over one Analysis: the rich table, JSON and Markdown share one column list."""
