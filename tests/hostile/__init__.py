"""Attacks by a hostile page, seller, member user or process, each reproduced (marker ``hostile``)."""
