"""The command line explains itself: every option has help, and ``--version`` answers."""

from __future__ import annotations

import argparse

import pytest

from harness.cli import build_parser, main


def every_parser(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += every_parser(child)
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{prog} {action.option_strings or action.dest}"
               for prog, parser in every_parser(build_parser())
               for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert missing == []


def test_help_shows_defaults_worth_saying() -> None:
    (generate,) = [parser for prog, parser in every_parser(build_parser())
                   if prog.endswith("data generate")]
    text = generate.format_help()
    assert "(default: 10000)" in text and "(default: ethanol)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("harness ")
