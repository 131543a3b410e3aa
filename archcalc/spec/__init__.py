"""Specs: the YAML (or dict) layer stack, read into validated, immutable nodes.

``tree`` reads located YAML, ``parse`` validates it into ``model``'s nodes and
``load`` is the front door (files, text, dicts).
"""
