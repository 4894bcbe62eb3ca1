from .base import EvalFeatureMixin, EvalSelfSupervisor
from .byol_cld import BYOLCLD, EvalBYOL
from .cld import CLDMixin
from .moco_cld import EvalMoCo, MoCoCLD
from .npid import NPID
from .npid_cld import NPIDCLD
from .smog import SMoG

__all__ = ['EvalFeatureMixin', 'EvalSelfSupervisor', 'NPID', 'NPIDCLD', 'MoCoCLD',
           'BYOLCLD', 'EvalMoCo', 'EvalBYOL',
           'CLDMixin', 'SMoG']
