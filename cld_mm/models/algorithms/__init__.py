from .base import EvalFeatureMixin, EvalSelfSupervisor
from .npid import NPID

__all__ = ['EvalFeatureMixin', 'EvalSelfSupervisor', 'NPID']
