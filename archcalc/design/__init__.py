"""Design-level questions over analyses: compare designs, scale the input, lint for smells.

Pure Python over :class:`archcalc.Analysis`; import the submodule you need
(``archcalc.design.compare``, ``.scale``, ``.lint``) so that the summary's
lint costs nothing for the others.
"""
