"""Layer 4, compose: what a user asks for (settings, templates, positions, themes) turned into poems by the decoder, and cards.

May import: `text`, `prosody`, `model` (and `errors`, `files`, `paths`).
"""
