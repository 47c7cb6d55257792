"""Dataset generators; each module exposes ``generate(rng) -> {relative path: records}``."""
