"""Violation rules: zones and signal in, violations out (see engine.py)."""
