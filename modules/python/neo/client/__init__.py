"""neo.client: ZODB storage for a NEO cluster, over libneoclient.

    from neo.client.Storage import Storage
    storage = Storage(master_nodes='127.0.0.1:10000', name='main')

A ZODB configuration can also say `%import neo.client` and use a
<NEOStorage> section (component.xml), and zodburi knows `neo://` URIs
(zodburi.py).
"""
