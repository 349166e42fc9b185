"""What makes tools run on the hosts: jobs (continuous, one-off and scheduled, driven as
Toolforge's `toolforge jobs` drives them), each a desired state in the store that a
controller brings Slurm to. This package starts with the pure parts: `schedules` reads
a job's cron schedule and tells which tick is due; `jobspec` is a job's definition and
its checks; `policy` the chapter's images, defaults and quotas; `jobsfile` a Toolforge
jobs.yaml; `toolforge` answers `toolforge jobs …` and `tables` prints as it prints.
"""
