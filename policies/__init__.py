"""The chapter's rules as data and pure evaluators.

Nothing in this package performs I/O beyond reading its own bundled TOML files,
and nothing here imports the rest of the project: the bot, the bridge and the
provisioning worker all ask these modules for verdicts and act on them.
"""
