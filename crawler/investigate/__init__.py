"""Investigations of serial offenders: targeted crawls and self-contained case files."""
