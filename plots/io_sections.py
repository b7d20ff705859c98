"""The former name of io_workloads.py, kept while claims.py still imports it by that name; new
code imports io_workloads."""

from io_workloads import *  # noqa: F401,F403
