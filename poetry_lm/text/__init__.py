"""Layer 1, text: character forms, the corpus build and splits, the catalogue, corpus statistics, the vocabulary.

May import: nothing of poetry_lm but `errors`, `files` and `paths`.
"""
