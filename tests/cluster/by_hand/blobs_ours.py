"""Our client on an upstream cluster (blobs_upstream.sh)."""
import os
import sys

import transaction
import ZODB
from ZODB.blob import Blob

from neo.client.Storage import Storage

masters, scratch = sys.argv[1], sys.argv[2]


def open_db(cache):
    return ZODB.DB(Storage(master_nodes=masters, name='up', connect_timeout=30,
                           blob_dir=os.path.join(scratch, cache)))


db = open_db('cache1')
conn = db.open()
data = os.urandom(5 * 1024 * 1024 + 3)
conn.root.b = Blob(data)
conn.root.t = 'text'
transaction.commit()
with conn.root.b.open('w') as f:
    f.write(b'replaced')
transaction.commit()
db.undo(db.undoLog(0, 1)[0]['id'])
transaction.commit()
other = open_db('cache2')
with other.open().root.b.open() as f:
    assert f.read() == data
print('ours on upstream master and storage: store, replace, undo, read back '
      'through a new cache: OK')
other.close()
db.close()
