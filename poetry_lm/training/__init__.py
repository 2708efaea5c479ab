"""Layer 5, training: `fit` plus callbacks (sample poems are written by `compose`), warm starts, run folders and the event log.

May import: `text`, `prosody`, `model`, `compose` (and `errors`, `files`, `paths`). `runs` imports no Keras: the app's job manager reads it.
"""
