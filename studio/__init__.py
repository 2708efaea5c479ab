"""The studio's pages: one module per tab (write, analyse, corpus), the training sidebar, the model choice
and the widgets they share. UI only: every action calls `poetry_lm` and shows its PoetryError messages.
"""
