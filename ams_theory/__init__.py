"""ams-theory: claim-by-claim numerical verification of the AMS/Grams and Cautious optimizer papers,
and the torch optimizers those checks validate (one rule core for both)."""
from ams_theory.core.rules import Caution
from ams_theory.optim import (
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

__version__ = "0.1.0"

__all__ = ["AMS", "Adam", "AdamW", "CAdamW", "Grams", "Lion", "CLion", "GDM", "CGDM", "SignedMomentum",
           "CSignedMomentum", "GD", "PRESETS", "Caution", "__version__"]
