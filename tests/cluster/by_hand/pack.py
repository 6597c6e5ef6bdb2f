"""pack.py MASTERS CLUSTER: packs the whole history up to now through
upstream's neo.client (which packs without GC and does not wait for the
storages), then gives the storages a moment."""
import sys, time
from ZODB.serialize import referencesf
from neo.client.Storage import Storage
masters, name = sys.argv[1:3]
st = Storage(master_nodes=masters, name=name)
t = time.time()
st.pack(t, referencesf)
time.sleep(3)
st.close()
print("packed at", t)
