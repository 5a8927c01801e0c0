"""How a provider reaches a coordinator's SuperLink: the endpoint and CA certificate the coordinator published in
its node metadata (by the CID registered on-chain, so the document is the one it registered), the TLS handshake
checked against exactly that CA before any SuperNode starts, and the job's node key derived from this node's
long-term Flower key (:mod:`opendpg.fl.nodekeys`), whose public half this node publishes for coordinators."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.errors import OpenDPGError
from opendpg.fl.federation import SuperNodeLink
from opendpg.fl.nodekeys import derive_node_key, public_key_text, write_node_key
from opendpg.fl.tls import TlsError, check_endpoint, fingerprint
from opendpg.node.flower import CA, CA_SHA256, FLEET, NODE_KEY, job_label, node_metadata

__all__ = ["CoordinatorLinks", "LinkRefused"]

JOIN_CHECK_MAX_AGE = 30.0  # seconds a coordinator's SuperLink judgement is reused when joining its jobs


class LinkRefused(OpenDPGError):
    """This node will not connect to a coordinator's SuperLink (no TLS, a certificate it does not trust, ...)."""


class CoordinatorLinks:
    def __init__(self, chain: Chain, store: ContentStore, folder: Path, node_key: ec.EllipticCurvePrivateKey,
                 insecure: bool = False) -> None:
        self.chain, self.store, self.folder, self.node_key = chain, store, folder, node_key
        self.insecure = insecure
        self.published: dict[str, dict[str, object]] = {}  # coordinators' metadata by CID
        self._judged: dict[str, tuple[float, str | None]] = {}  # coordinator -> (when, refusal)
    def metadata(self) -> dict[str, object]:
        """This provider's node metadata document: its long-term Flower node public key."""
        return {"kind": "opendpg-node/1", "roles": ["provider"], NODE_KEY: public_key_text(self.node_key)}

    def refusal(self, coordinator: str, max_age: float = 0.0) -> str | None:
        """Why this node would not connect to ``coordinator``'s SuperLink (None: it would), from what it
        published; a judgement up to ``max_age`` seconds old is reused (the join policy's check, on the hot path of
        joining: the SuperNode's start checks afresh)."""
        judged = self._judged.get(coordinator)
        if judged is not None and time.monotonic() - judged[0] <= max_age:
            return judged[1]
        reason = self._refusal(coordinator)
        self._judged[coordinator] = (time.monotonic(), reason)
        return reason

    def join_check(self, coordinator: str) -> str | None:
        """:meth:`refusal`, reusing a judgement of the last 30 s."""
        return self.refusal(coordinator, max_age=JOIN_CHECK_MAX_AGE)

    def _refusal(self, coordinator: str) -> str | None:
        published = node_metadata(self.chain, self.store, coordinator, self.published)
        if not published.get(FLEET):
            return f"coordinator {coordinator} publishes no Flower endpoint"
        ca = published.get(CA)
        if not ca:
            return None if self.insecure else (
                f"coordinator {coordinator} runs a plaintext SuperLink (it publishes no TLS certificate): model "
                "updates would cross the network unencrypted ([flower] insecure = true allows it, for development)")
        try:
            if published.get(CA_SHA256) and fingerprint(str(ca)) != str(published[CA_SHA256]).lower():
                return f"coordinator {coordinator}'s CA certificate does not match the fingerprint it published"
        except TlsError as exc:
            return f"coordinator {coordinator}'s published CA certificate is unusable: {exc}"
        return None

    def link(self, job_id: int, coordinator: str) -> tuple[str, SuperNodeLink]:
        """The Fleet address of ``coordinator``'s SuperLink and how a SuperNode for ``job_id`` connects to it:
        the CA file (its TLS handshake already checked against it) and the job's node key file. Raises
        :class:`LinkRefused` (or ``ConnectionError`` while it cannot be reached)."""
        reason = self.refusal(coordinator)
        if reason is not None:
            raise LinkRefused(reason)
        published = node_metadata(self.chain, self.store, coordinator, self.published)
        endpoint, ca = str(published[FLEET]), str(published.get(CA) or "")
        if not ca:
            return endpoint, SuperNodeLink(None)
        try:
            check_endpoint(endpoint, ca)
        except TlsError as exc:
            raise LinkRefused(f"coordinator {coordinator}: {exc}") from None
        ca_file = self.folder / f"superlink-{coordinator.lower()}.pem"
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        ca_file.write_text(ca)
        key = derive_node_key(self.node_key, job_label(self.chain.deployment, job_id))
        return endpoint, SuperNodeLink(ca_file, write_node_key(self.folder / "keys" / f"job-{job_id}.key", key))
