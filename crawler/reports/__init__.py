"""The report registry: every report over the index declared once (`REPORTS`, in
`catalog.py`), run by name with plain parameters (`run_report`). The command line's report
subcommands, their --help, docs/sql.md's table of reports and the tests' list all derive from
it."""

from __future__ import annotations

from crawler.reports.catalog import REPORTS
from crawler.reports.model import Param, Query, Report
from crawler.reports.run import check_params, report_named, run_report

__all__ = ["REPORTS", "Param", "Query", "Report", "check_params", "report_named", "run_report"]
