"""What can go wrong between nca-zoo and the Hugging Face Hub."""

from __future__ import annotations


class HubError(FileNotFoundError):
    """A Hub file could not be obtained: offline and not cached, missing repo/revision/file, server error or timeout."""


class HubFileMissingError(HubError):
    """The repo and revision exist but hold no such file."""


class PushError(RuntimeError):
    """Creating the repo or committing to it failed (no token, no write access, server error)."""
