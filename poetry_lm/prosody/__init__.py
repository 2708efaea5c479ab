"""Layer 2, prosody: the rules of verse (tones, rhyme books, meter), the analyser, and the constraint rows they give the decoder.

May import: `text` (and `errors`, `files`, `paths`).
"""
