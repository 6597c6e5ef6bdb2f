"""NEO, a distributed storage for ZODB: the client side (neo.client)."""
