"""Provisioning: creating the accounts of approved requests (contract §6).

`names` turns a wiki username into a Unix shell name (pure); `backend` is the
interface every backend implements (`ldap`, `unix`, `dryrun`); `worker` runs the
jobs queued in the store, each as `job_kinds` says; `direct` makes accounts by hand.
This package knows neither the wiki nor the web: it reads and writes the store and
talks to a directory or the local system.
"""
