"""The SuperLink's Control API as the coordinator uses it: admit a SuperNode's public key, remove it, list nodes.

It talks to the internal (loopback) listener of :mod:`opendpg.fl.superlink` with Flower's own Control API client,
as ``flwr supernode register|unregister|ls`` does, without starting a process per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flwr.cli.cli_client_interceptor import CliClientHttpInterceptor
from flwr.proto.control_pb2 import ListNodesRequest, RegisterNodeRequest, UnregisterNodeRequest
from flwr.supercore.control import ControlHttpClient
from flwr.supercore.interceptors import RuntimeVersionHttpInterceptor

from opendpg.errors import OpenDPGError
from opendpg.fl.nodekeys import public_key_pem

__all__ = ["ControlError", "NodeRecord", "SuperLinkControl"]


class ControlError(OpenDPGError):
    """The SuperLink refused or failed a Control API call."""


@dataclass(frozen=True)
class NodeRecord:
    node_id: int
    status: str  # registered, online, offline, unregistered
    public_key_pem: bytes
    name: str


class SuperLinkControl:
    def __init__(self, address: str, root_certificates: Path | None) -> None:
        self.client = ControlHttpClient.from_server_address(
            server_address=address, insecure=root_certificates is None,
            root_certificates=root_certificates.read_bytes() if root_certificates else None,
            interceptors=[CliClientHttpInterceptor(), RuntimeVersionHttpInterceptor(component_name="flwr CLI")])

    def register(self, public_key: str, name: str) -> int:
        """Admit the node with this OpenSSH public key; its node ID."""
        try:
            response = self.client.RegisterNode(RegisterNodeRequest(public_key=public_key_pem(public_key), name=name))
        except Exception as exc:
            raise ControlError(f"the SuperLink did not register node {name!r}: {exc}") from exc
        if not response.node_id:
            raise ControlError(f"the SuperLink did not register node {name!r}")
        return int(response.node_id)

    def unregister(self, node_id: int) -> None:
        """Remove a node: its next request is refused (401). Its key cannot be registered again."""
        try:
            self.client.UnregisterNode(UnregisterNodeRequest(node_id=node_id))
        except Exception as exc:
            raise ControlError(f"the SuperLink did not unregister node {node_id}: {exc}") from exc

    def nodes(self) -> list[NodeRecord]:
        try:
            response = self.client.ListNodes(ListNodesRequest())
        except Exception as exc:
            raise ControlError(f"the SuperLink did not list its nodes: {exc}") from exc
        return [NodeRecord(int(n.node_id), str(n.status), bytes(n.public_key), str(n.name))
                for n in response.nodes_info]

    def close(self) -> None:
        self.client.close()
