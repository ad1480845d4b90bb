"""Templates and static files for the admin, the customer-facing pages and emails."""
