"""Thin Flask blueprints: parse, call the pipeline, answer. No clinical logic here."""
