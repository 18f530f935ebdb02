"""PCBM-shaped demonstration model for Bedside's synthetic phantom (not a clinical model)."""
