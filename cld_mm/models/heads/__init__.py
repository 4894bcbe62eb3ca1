from .smog_head import SMoGHead  # noqa: F401
