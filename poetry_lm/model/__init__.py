"""Layer 3, model: config, the network and its files, the dataset, held-out scoring, precision and Keras work-arounds.

May import: `text`, `prosody` (and `errors`, `files`, `paths`).
"""
