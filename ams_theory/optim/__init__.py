"""The torch optimizers (:mod:`.optimizers`) and the runtimes they step with: the loop, foreach and chunked
paths (:mod:`.runtimes`, :mod:`.pieces`), the compiled step (:mod:`.fused`) and sharded parameters
(:mod:`.sharded`). Every path calls the same rule of :mod:`ams_theory.core.rules`."""
from ams_theory.optim.optimizers import (
                                         AMS,
                                         CGDM,
                                         GD,
                                         GDM,
                                         PRESETS,
                                         Adam,
                                         AdamW,
                                         CAdamW,
                                         CLion,
                                         CSignedMomentum,
                                         Grams,
                                         Lion,
                                         SignedMomentum,
)

__all__ = ["AMS", "Adam", "AdamW", "CAdamW", "Grams", "Lion", "CLion", "GDM", "CGDM", "SignedMomentum",
           "CSignedMomentum", "GD", "PRESETS"]
