"""Renderers: take records, return rich tables, text or files; no measuring, no printing."""
