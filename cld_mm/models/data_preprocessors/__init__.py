from .device_multiview import DeviceMultiViewPreprocessor, view_seed
from .transforms import VIEW_TRANSFORMS, build_view_pipeline

__all__ = ['DeviceMultiViewPreprocessor', 'view_seed', 'VIEW_TRANSFORMS',
           'build_view_pipeline']
