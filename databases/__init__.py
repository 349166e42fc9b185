"""The tool databases: a MariaDB account for every tool and member with a shell, as
Wikimedia's ToolsDB gives them — a user named for the account's uid, the right to every
database named `USER__anything` and nothing else, and `~/replica.my.cnf` holding the
credentials, readable by the account alone.

The store says which accounts must have credentials and whether they are active
(`desired.py`); the reconciler (`reconciler.py`) reads the server (`server.py`) and the
files in the homes (`homes.py`), plans the steps with pure rules (`plan.py`, over the
names of `naming.py` and the file of `credentials.py`) and applies them under a lease.
"""
