"""Plumbing shared by every feature; knows no feature."""
