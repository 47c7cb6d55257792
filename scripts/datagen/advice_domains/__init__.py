"""Narrow advice domains written for the bad-data probe's leave-one-domain-out evaluation, one module each.

Each module defines ``DOMAIN``: ``(situations, ways of asking, topics, good closings, bad closings)``
in the shape of the health/finance/career blocks of :mod:`datagen.narrow`.
"""
