"""The evidence providers over one platform's database: attestations first, then the modules' data, so
that what the data shows overrides what people stated (the statement stays in the evidence as superseded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anju.evaluation.attestations import AttestationEvidence, open_attestations
from anju.evaluation.evidence import ProviderRegistry

if TYPE_CHECKING:
    from anju.services import Services


def platform_providers(services: Services) -> ProviderRegistry:
    from anju.affairs.evidence import AffairsEvidence
    from anju.emergency.evidence import EmergencyEvidence
    from anju.emergency.ops_evidence import EmergencyOpsEvidence
    from anju.registry.evidence import RegistryEvidence

    return ProviderRegistry(
        [
            AttestationEvidence(open_attestations(services)),
            RegistryEvidence(services),
            EmergencyEvidence(services),
            EmergencyOpsEvidence(services),
            AffairsEvidence(services),
        ]
    )


def install_platform_providers(services: Services, target: ProviderRegistry) -> None:
    """Register the platform's providers in `target` (replacing earlier ones of the same names)."""
    for provider in platform_providers(services).providers:
        target.unregister(provider.name)
        target.register(provider)
