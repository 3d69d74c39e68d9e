"""Log-based change data capture from PostgreSQL (load_type CDC): pgoutput logical replication
read through one slot and one publication per connection, an initial snapshot consistent with
the slot, and the lake updated so that every change lands exactly once (docs/cdc.md).

- prerequisites.py: what the server must allow, checked before any load (also for `check`)
- names.py: the app's slot and publication names of a connection
- pgoutput.py: decoding pgoutput's binary messages
- values.py: text tuple values typed by the relation's type OIDs, and dlt column hints
- slot.py: publication and slot management, the exported snapshot, bounded reads, lag, drop
- changes.py: decoded messages -> change rows per table, written to the batch's scratch files
- spill.py: a batch's change rows on disk (arrow files per table, in blocks), read back block by block
- net_change.py: the net change per key of a spilled batch (Delta MERGE), two passes over its files
- landing.py: how a job's snapshot and batches land (parquet, delta, cdc_deletes mark, scd2)
- connection_load.py: one connection's CDC jobs end to end (slot read -> lake -> advance)
"""
