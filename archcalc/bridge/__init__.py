"""The torch edge: build modules from specs, and summarise existing modules.

Everything under here imports torch; nothing outside it does at import time.
"""
