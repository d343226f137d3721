"""A Slack turn crosses the job queue as plain data: it round-trips, and anything else is refused."""

from __future__ import annotations

import pickle

import pytest

from bots.slack.turns import SlackTurn
from core.errors import InvalidInput


def test_a_turn_round_trips_through_the_queue_encoding() -> None:
    turn = SlackTurn(
        kind="related",
        body={"actions": [{"action_id": "related_0", "value": "Who do I page?"}], "response_url": "u"},
        team_id="T1",
        enterprise_id="E1",
        is_enterprise_install=True,
    )
    again = SlackTurn.from_dict(pickle.loads(pickle.dumps(turn.to_dict())))  # arq's default serializer
    assert again == turn and again.action["value"] == "Who do I page?" and again.event == {}


@pytest.mark.parametrize(
    "data", [{"kind": "delete_everything", "body": {}}, {"kind": "command", "body": "x"}, {}]
)
def test_unknown_kinds_and_bodies_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        SlackTurn.from_dict(data)
