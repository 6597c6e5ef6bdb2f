"""Upstream's client on the same database (blobs_upstream.sh)."""
import sys

import ZODB
from neo.client.Storage import Storage

db = ZODB.DB(Storage(master_nodes=sys.argv[1], name='up'))
root = db.open().root()
print('upstream client: root keys %s, b is a %s, t is %r'
      % (sorted(root.keys()), type(root['b']).__name__, root['t']))
try:
    root['b'].open().read()
except Exception as e:
    print('opening the blob through upstream: %s: %s' % (type(e).__name__, e))
db.close()
