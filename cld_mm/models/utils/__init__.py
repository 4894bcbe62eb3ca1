from .memory_bank import (check_bank_indices, init_memory_bank,
                          momentum_bank_rows)

__all__ = ['init_memory_bank', 'momentum_bank_rows', 'check_bank_indices']
