"""Layer 6, measure: held-out perplexity beside an n-gram, the quality of generated poems, the benchmark.

May import: every layer below (`text`, `prosody`, `model`, `compose`, `training`; and `errors`, `files`, `paths`).
"""
