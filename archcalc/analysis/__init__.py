"""Static analysis: shapes, parameters, MACs, memory and receptive fields."""

from archcalc.analysis.memory import MemoryEstimate, estimate
from archcalc.analysis.receptive import ReceptiveField
from archcalc.analysis.result import Analysis, Row, Totals
from archcalc.analysis.walk import analyze

__all__ = ["Analysis", "MemoryEstimate", "ReceptiveField", "Row", "Totals", "analyze", "estimate"]
