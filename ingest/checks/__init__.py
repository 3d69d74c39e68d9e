"""Checks run after a load, without reading the source's rows again."""
