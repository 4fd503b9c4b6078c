"""Linked seller accounts: shared identifiers and near-identical images, with their proofs."""
