from .norm_linear import NormLinear, NormLinearNeck, NormMLPNeck, TwoBranchMLPNeck

__all__ = ['NormLinear', 'NormLinearNeck', 'NormMLPNeck', 'TwoBranchMLPNeck']
