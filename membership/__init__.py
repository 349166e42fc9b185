"""The request lifecycle: states, transitions and the store shared by every process.

`states` is pure; `store` is the one place that reads and writes the SQLite
database that the bot, the bridge and the provisioning worker share.
"""
