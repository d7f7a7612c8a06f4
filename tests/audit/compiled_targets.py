"""A target for the audit's compiled-path check, loaded by path (``tests/audit/compiled_targets.py:Class``) so
that the audit can record it again in a fresh process with its compiler disabled."""
import torch


class SkipsScalarsWhenCompiled(torch.optim.AdamW):
    """torch's AdamW run through torch.compile (the eager backend), skipping 0-d parameters unless torch's compiler
    is disabled (``TORCH_COMPILE_DISABLE=1``): a parameter never moved on the compiled path only."""

    def step(self, closure=None):
        import torch._dynamo

        if not hasattr(self, "_compiled"):
            self._compiled = torch.compile(super().step, backend="eager")
        hidden = [] if torch._dynamo.config.disable else [
            (p, p.grad) for g in self.param_groups for p in g["params"] if p.dim() == 0]
        for p, _ in hidden:
            p.grad = None
        try:
            return self._compiled(closure)
        finally:
            for p, grad in hidden:
                p.grad = grad
