"""The diagnosis's parts; its public names live in `worker_locator.diagnosis`.

One concept per module: `files` reads and writes snapshot files, `validation`
decides whether data is a snapshot, `conflicts` holds the rules, `report`
lays out what they found, and `cli` is the command line.
"""
