"""The loan and investor ledger's tables, one module per topic; import them from here.

Installment and loan amounts are state kept current by `credits.services`; the
append-only `LedgerEntry` table is the record they can always be recomputed from.
"""

from credits.models.investors import (
    Distribution,
    Investor,
    Liquidation,
    Participation,
)
from credits.models.loans import (
    COMPONENTS,
    DEFAULT_ALLOCATION_ORDER,
    LOAN_STATUSES,
    ZERO,
    Bucket,
    Component,
    Installment,
    Loan,
    LoanContract,
    LoanContractSigner,
    LoanProduct,
    validate_allocation_order,
)
from credits.models.payments import (
    LedgerEntry,
    Payment,
    PaymentAllocation,
    receipt_upload_to,
)
from credits.models.portfolio import PortfolioSnapshot
from credits.models.write_offs import WriteOffBatch, WriteOffItem

__all__ = [
    "COMPONENTS",
    "DEFAULT_ALLOCATION_ORDER",
    "LOAN_STATUSES",
    "ZERO",
    "Bucket",
    "Component",
    "Distribution",
    "Installment",
    "Investor",
    "LedgerEntry",
    "Liquidation",
    "Loan",
    "LoanContract",
    "LoanContractSigner",
    "LoanProduct",
    "Participation",
    "Payment",
    "PaymentAllocation",
    "PortfolioSnapshot",
    "WriteOffBatch",
    "WriteOffItem",
    "receipt_upload_to",
    "validate_allocation_order",
]
