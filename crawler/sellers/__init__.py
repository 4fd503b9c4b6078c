"""Sellers under the agreement: the strike ledger, the repeat-infringer policy and escalations."""
