"""MGR and its competitors under one protocol, and the registry ``METHODS``.

Every method trains the same classifier with the same optimiser, schedule, real mini-batches and augmentation of
the real images; they differ only in what they do with the synthetic images of the shared, frozen generator:

- ``erm``: none (cross-entropy on the real images only).
- ``gda`` -- naive generative data augmentation: synthetic images, augmented like the real ones, enter the
  cross-entropy with their conditioning labels (loss CE(real) + gda_weight * CE(synthetic); ours: equal batch
  weight). The abstract's 'degrading' baseline.
- ``gda_cons`` -- generative DA with consistency: gda plus the PCR term on the same synthetic images.
- ``pcr_uniform`` -- PCR with latents drawn from the generator's prior (MGR without meta pseudo sampling).
- ``mgr`` -- PCR with latents from the finder, which is trained by meta pseudo sampling (``method.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodSpec:
    """What a method does with synthetic images."""
    synthetic_ce: bool = False
    """Synthetic images enter the cross-entropy with their conditioning labels."""
    pcr: bool = False
    """Pseudo consistency regularisation on the synthetic images (feature extractor only)."""
    finder: bool = False
    """Latents come from the finder trained by meta pseudo sampling (else from the prior)."""

    @property
    def uses_generator(self) -> bool:
        return self.synthetic_ce or self.pcr


METHODS: dict[str, MethodSpec] = {
    "erm": MethodSpec(),
    "gda": MethodSpec(synthetic_ce=True),
    "gda_cons": MethodSpec(synthetic_ce=True, pcr=True),
    "pcr_uniform": MethodSpec(pcr=True),
    "mgr": MethodSpec(pcr=True, finder=True),
}
