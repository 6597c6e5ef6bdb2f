"""The neo:// and neos:// URIs of zodburi, with upstream NEO's syntax:

    neo://NAME@HOST:PORT,HOST:PORT?OPTION=VALUE&...
    neos://...   the same over SSL: ca, cert and key default to
                 $NEO_CA, $NEO_CERT and $NEO_KEY

Options that the <NEOStorage> section knows (read_only or read-only,
cache-size, compress, ...) configure the storage; the others are
returned as DB keyword arguments, for zodburi to use.
"""

import io
import os
from urllib.parse import parse_qsl, unquote, urlsplit


def storage_keys():
    """The keys of the <NEOStorage> section type (component.xml)."""
    import ZConfig
    schema = ZConfig.loadSchemaFile(io.StringIO(
        '<schema><import package="ZODB"/><import package="neo.client"/>'
        '</schema>'))
    return {key for key, _ in schema.gettype('NeoStorage')}


def parse_uri(uri):
    """(the ZConfig text of the storage, DB keyword arguments)."""
    parts = urlsplit(uri)
    if parts.scheme not in ('neo', 'neos'):
        raise ValueError('%s: not a neo:// or neos:// URI' % uri)
    if parts.path or parts.fragment:
        raise ValueError('%s: a NEO URI has no path nor fragment' % uri)
    name, at, masters = parts.netloc.partition('@')
    if not at or not name or not masters:
        raise ValueError('%s: expected neo://NAME@MASTERS' % uri)
    storage = {'master_nodes': ' '.join(masters.split(',')),
               'name': unquote(name)}
    known = storage_keys()
    db_options = {}
    for key, value in parse_qsl(parts.query):
        # zodburi spells options with '_', ZConfig with '-'.
        for spelling in (key, key.replace('_', '-')):
            if spelling in known:
                if spelling in ('master_nodes', 'name'):
                    raise ValueError('%s: %s belongs before the query'
                                     % (uri, spelling))
                storage[spelling] = value
                break
        else:
            db_options[key] = value
    if parts.scheme == 'neos':
        for key in ('ca', 'cert', 'key'):
            if key not in storage:
                variable = 'NEO_' + key.upper()
                if not os.environ.get(variable):
                    raise ValueError('%s: no %s option and $%s is not set'
                                     % (uri, key, variable))
                storage[key] = os.environ[variable]
    lines = ['%import neo.client', '<NEOStorage>']
    lines += ['  %s %s' % item for item in storage.items()]
    lines.append('</NEOStorage>')
    return '\n'.join(lines) + '\n', db_options


def resolve_uri(uri):
    """zodburi's entry point: (storage factory, DB keyword arguments)."""
    config, db_options = parse_uri(uri)

    def factory():
        import ZODB.config
        return ZODB.config.storageFromString(config)
    return factory, db_options
