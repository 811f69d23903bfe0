"""Market specs, data feeds (pandas), feature recipes and decision rules.

Everything here is pure data work: no torch, no proving. Provers and validators
both compute features through this package, so they agree bit for bit.
"""
