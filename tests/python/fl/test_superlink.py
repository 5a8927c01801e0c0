"""DirectFleet (``opendpg.fl.superlink``) answers the Fleet calls a SuperNode makes for every message as Flower's own
SuperLink app does: the same status, content type and bytes, errors included. Both run on one Flower app and its
state here; the SuperLink process itself runs in test_links.py and test_hosts.py."""

import asyncio
import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flwr.common.constant import TIMESTAMP_HEADER
from flwr.proto.fleet_pb2 import PullMessagesRequest, PullMessagesResponse
from flwr.proto.heartbeat_pb2 import SendNodeHeartbeatRequest, SendNodeHeartbeatResponse
from flwr.proto.node_pb2 import Node
from flwr.proto.run_pb2 import GetRunRequest
from flwr.supercore.constant import FLEET_HTTP_PUBLIC_KEY_HEADER, FLEET_HTTP_SIGNATURE_HEADER
from flwr.supercore.date import now
from flwr.supercore.primitives.asymmetric import public_key_to_bytes, sign_message
from flwr.superlink.main import create_app

from opendpg.fl.superlink import DIRECT_FLEET, DirectFleet, direct_fleet_applies

PROTOBUF = "application/protobuf"


def _post(app, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """One POST through an ASGI app: its status, content type and body."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "https",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("10.0.0.2", 50000), "server": ("10.0.0.1", 9092), "state": {}}
    sent = False
    answer: dict[str, object] = {"body": b""}

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["type"] = dict(message["headers"]).get(b"content-type", b"").decode()
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answer["status"], answer["type"], answer["body"]


class SignedNode:
    """A node registered and online in the app's state, and the signed headers its SuperNode sends."""

    def __init__(self, app) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        self.public = public_key_to_bytes(self.key.public_key())
        state = app.state.linkstate_factory.state()
        self.node_id = state.create_node("owner", "owner", self.public, heartbeat_interval=30.0)
        assert state.activate_node(self.node_id, 30.0)

    def headers(self, *, key=None, stamp=None) -> dict[str, str]:
        timestamp = stamp or now().isoformat()
        signature = sign_message(key or self.key, timestamp.encode("ascii"))
        return {"content-type": PROTOBUF, FLEET_HTTP_PUBLIC_KEY_HEADER: base64.b64encode(self.public).decode(),
                TIMESTAMP_HEADER: timestamp, FLEET_HTTP_SIGNATURE_HEADER: base64.b64encode(signature).decode()}


@pytest.fixture()
def apps():
    flower = create_app()
    return flower, DirectFleet(flower), SignedNode(flower)


def _both(apps, path, body, headers):
    flower, direct, _ = apps
    return _post(flower, path, body, headers), _post(direct, path, body, headers)


def test_a_signed_heartbeat_and_an_empty_pull_get_flowers_answer(apps):
    _, _, node = apps
    beat = SendNodeHeartbeatRequest(node=Node(node_id=node.node_id), heartbeat_interval=30.0).SerializeToString()
    flower, direct = _both(apps, "/v1/fleet/send-node-heartbeat", beat, node.headers())
    assert flower == direct
    assert direct[:2] == (200, PROTOBUF) and SendNodeHeartbeatResponse.FromString(direct[2]).success

    pull = PullMessagesRequest(node=Node(node_id=node.node_id)).SerializeToString()
    flower, direct = _both(apps, "/v1/fleet/pull-messages", pull, node.headers())
    assert flower == direct
    assert direct[:2] == (200, PROTOBUF) and len(PullMessagesResponse.FromString(direct[2]).messages_list) == 0


@pytest.mark.parametrize("case", ["wrong key", "other node", "stale timestamp", "unsigned", "not protobuf",
                                  "garbage body"])
def test_refusals_are_flowers_own_error_answers(apps, case):
    # Prepare: a request from the registered node, spoiled one way
    _, _, node = apps
    node_id = node.node_id + 1 if case == "other node" else node.node_id
    body = SendNodeHeartbeatRequest(node=Node(node_id=node_id), heartbeat_interval=30.0).SerializeToString()
    headers = node.headers(key=ec.generate_private_key(ec.SECP384R1()) if case == "wrong key" else None,
                           stamp="2020-01-01T00:00:00+00:00" if case == "stale timestamp" else None)
    if case == "unsigned":
        del headers[FLEET_HTTP_SIGNATURE_HEADER]
    if case == "not protobuf":
        headers["content-type"] = "application/json"
    if case == "garbage body":
        body = b"\xff\xff\xff"

    # Execute
    flower, direct = _both(apps, "/v1/fleet/send-node-heartbeat", body, headers)

    # Assert: the same refusal, byte for byte
    assert flower == direct
    status, content_type, answer = direct
    assert 400 <= status < 500 and content_type == "application/json" and json.loads(answer)


def test_other_calls_go_through_flowers_stack(apps):
    flower_app, direct, node = apps
    body = GetRunRequest(node=Node(node_id=node.node_id), run_id=12345).SerializeToString()
    assert "/v1/fleet/get-run" not in DIRECT_FLEET
    assert _post(direct, "/v1/fleet/get-run", body, node.headers()) == \
        _post(flower_app, "/v1/fleet/get-run", body, node.headers())


def test_the_fleet_routers_version_check_only_observes():
    # DirectFleet skips the Fleet router's one dependency, which may only refuse when reject_incompatible is set
    from flwr.superlink.routers.fleet.router import router

    (dependency,) = router.dependencies
    assert dependency.dependency._reject_incompatible is False


def test_a_fleet_event_log_keeps_flowers_stack():
    assert direct_fleet_applies(fleet_event_log=False)
    assert not direct_fleet_applies(fleet_event_log=True)
