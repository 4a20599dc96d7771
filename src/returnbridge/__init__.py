"""returnbridge: ZigZag returns to Amazon Vendor Central and the ERP, reconciled."""

__all__ = ["__version__"]

__version__ = "0.1.0"
