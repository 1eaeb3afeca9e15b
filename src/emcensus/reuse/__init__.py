"""Recovering the lost data: the unpublished images of a facility as a dataset others can use
(`emcensus reuse export`), and a per-group report of what a group took, published and left unused.

`export` orchestrates; `splits` (sessions, union-find, split assignment), `pseudonyms` (HMAC names),
`stage` (clean TIFFs, per image in the scan's pool), `writers` (folder, webdataset, parquet),
`describe` (Croissant, RO-Crate, dataset card, manifest) and `report` do one thing each.
"""
