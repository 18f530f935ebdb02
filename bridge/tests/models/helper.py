"""Sibling module imported by stateful.py (checks the entry's folder is on sys.path)."""

OFFSET = 1000
