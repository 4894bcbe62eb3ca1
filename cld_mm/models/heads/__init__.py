from .cld_head import CLDHead  # noqa: F401
