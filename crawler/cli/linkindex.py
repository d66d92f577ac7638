"""Registers the link-index commands: profile, reports, history, authority and exports."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from crawler.cli import export, history, profile, rank, reports

    profile.add_parser(sub)
    reports.add_parsers(sub)
    export.add_parsers(sub)
    rank.add_parser(sub)
    history.add_parsers(sub)
