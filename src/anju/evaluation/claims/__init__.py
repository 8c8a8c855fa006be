"""Claim checks: audit self-reported acceptance material (seed 004's notice, or a structured form)."""

from anju.evaluation.claims.checks import check_document
from anju.evaluation.claims.model import ClaimDocument, CommunityClaim, Finding, FindingKind, IndicatorClaim
from anju.evaluation.claims.structured import read_claims

__all__ = [
    "ClaimDocument",
    "CommunityClaim",
    "Finding",
    "FindingKind",
    "IndicatorClaim",
    "check_document",
    "read_claims",
]
