from .instance import nce_loss, nce_normaliser, nonparametric_softmax_loss

__all__ = ['nonparametric_softmax_loss', 'nce_loss', 'nce_normaliser']
