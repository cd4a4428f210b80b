"""What a user can fix: the ``DxwError`` family.

A ``DxwError`` carries a message a data engineer can act on (Vietnamese where it goes back to a
reporting unit); the ``dxw`` command line prints it on one line and exits with ``exit_code``.
Anything else is a bug in dxw or a library: the command line shows its traceback.
"""

from __future__ import annotations


class DxwError(Exception):
    """A condition the user can fix; the message says what to do, never a secret."""

    exit_code = 1


class ConfigurationError(DxwError):
    """A ``DXW_*`` setting or the installation holds something dxw cannot work with."""

    exit_code = 2


class InputError(DxwError):
    """An argument, a file or a period the user gave cannot be used as it is."""


class SourceError(DxwError):
    """A source could not be read: unreachable, refused the request or answered nonsense."""


class WarehouseError(DxwError):
    """The warehouse cannot be reached, or refused or could not yet do what was asked."""


class RunError(DxwError):
    """A run (of a DAG, of dbt, of the deployment) failed or cannot start; its log says why."""
