"""Minimal pairs of correct and subtly wrong advice, one module per domain.

Each module defines ``PAIRS``: ``(question, correct advice, wrong advice)`` triples in which the two
answers share their sentence frame, tone and hedging and differ only in the words that make one of
them wrong. The templated narrow sets let a probe tell the classes apart by wording alone (a
words-only baseline reaches 0.94 across domains, docs/bad_data.md); these do not.
"""
