"""HTTP handlers and the state changes behind them, one module per area of the API.

Importing this package registers every route.
"""

from . import (  # noqa: F401 - imported for their @route registrations
    accounts,
    catalog,
    connect,
    customers,
    events,
    invoices,
    payment_methods,
    subscriptions,
)
