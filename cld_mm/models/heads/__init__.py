from .cld_head import CLDHead  # noqa: F401
from .smog_head import SMoGHead  # noqa: F401
