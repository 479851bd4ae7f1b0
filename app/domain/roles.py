"""Portal roles a person holds on one company, ordered by what they allow."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """View < Modify < Admin: a higher role includes everything a lower one allows."""

    VIEW = 1
    MODIFY = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The name shown to people."""
        return self.name.capitalize()

    @property
    def can_modify(self) -> bool:
        """May change seat quantities."""
        return self >= Role.MODIFY

    @property
    def can_admin(self) -> bool:
        """May cancel, suspend, schedule, assign and see who has access."""
        return self >= Role.ADMIN

    @classmethod
    def parse(cls, text: str) -> Role:
        """Read a role from a form or command line value such as 'modify'."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(r.label for r in cls)
            raise ValueError(f"Unknown role {text!r}: choose one of {choices}.") from None
