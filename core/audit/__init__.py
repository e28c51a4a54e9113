"""Judge audit (pure): a bias card per judge — position, length, self-preference, leniency
and error rates — and generator win rates with Bradley–Terry strengths, every figure with a
bootstrap CI and its n, or the reason it is undefined.

Start with :func:`audit_dimension`; item texts and models come in as :class:`ItemFacts`.
"""

from core.audit.data import AuditOptions, ItemFacts, in_family
from core.audit.figures import Bootstrap, Figure
from core.audit.report import AuditReport, JudgeAudit, audit_dimension, audited_judges
from core.audit.win_rates import WinRates, bradley_terry, tau_b, win_matrix, win_rates

__all__ = [
    "AuditOptions",
    "AuditReport",
    "Bootstrap",
    "Figure",
    "ItemFacts",
    "JudgeAudit",
    "WinRates",
    "audit_dimension",
    "audited_judges",
    "bradley_terry",
    "in_family",
    "tau_b",
    "win_matrix",
    "win_rates",
]
