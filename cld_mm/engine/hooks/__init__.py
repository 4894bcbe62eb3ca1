from .bank_size_check import BankSizeCheckHook

__all__ = ['BankSizeCheckHook']
