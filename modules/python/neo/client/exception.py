"""Exceptions of neo.client, and how the C extension's errors become
ZODB's.  The hierarchy follows upstream NEO's so that callers catching
those keep working."""

from ZODB import POSException

from . import _neoclient


class NEOStorageError(POSException.StorageError):
    """The cluster could not do what was asked."""


class NEOStorageNotFoundError(NEOStorageError):
    """No such object, or no data for it at that time."""


class NEOPrimaryMasterLost(POSException.ReadConflictError):
    """The connection to the primary master was lost: retry the
    transaction (as upstream, a ReadConflictError so that ZODB users
    retry)."""


def translate(error):
    """The ZODB exception for an error of the C extension."""
    if isinstance(error, _neoclient.ReadOnlyError):
        return POSException.ReadOnlyError(str(error))
    if isinstance(error, (_neoclient.DisconnectedError, _neoclient.TimeoutError)):
        return NEOPrimaryMasterLost(str(error))
    if isinstance(error, (_neoclient.NotFoundError, _neoclient.NoDataError)):
        return NEOStorageNotFoundError(str(error))
    if isinstance(error, _neoclient.UndoError):
        return POSException.UndoError(str(error))
    return NEOStorageError(str(error))
