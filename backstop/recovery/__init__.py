"""Recovering failed payments: campaigns, the retry policy, dunning, the terminal action."""
