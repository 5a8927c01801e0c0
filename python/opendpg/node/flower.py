"""What a coordinator and its providers publish to each other for Flower, and how each job's node key is named.

Both publish a node metadata document (JSON on IPFS, its CID in their on-chain node record):

- a coordinator: ``flower_fleet`` (``host:port`` its SuperLink's Fleet API is dialled at), ``flower_ca`` (the PEM
  CA certificate providers must trust for it, exactly) and ``flower_ca_sha256`` (its fingerprint); no CA means
  a plaintext development SuperLink, which providers refuse unless they run in development mode too;
- a provider: ``flower_node_key``, its long-term Flower node public key (OpenSSH, P-256), from which the
  coordinator derives the key each job's SuperNode authenticates with (:mod:`opendpg.fl.nodekeys`).
"""

from __future__ import annotations

import json
from typing import Any

from opendpg.chain import Chain, Deployment
from opendpg.content import ContentStore
from opendpg.errors import ContentError
from opendpg.fl.tls import fingerprint

__all__ = ["CA", "CA_SHA256", "FLEET", "NODE_KEY", "coordinator_metadata", "job_label", "node_metadata"]

FLEET, CA, CA_SHA256, NODE_KEY = "flower_fleet", "flower_ca", "flower_ca_sha256", "flower_node_key"


def coordinator_metadata(fleet: str, ca_pem: str | None) -> dict[str, Any]:
    """A coordinator's node metadata document: its SuperLink's Fleet address and, unless it is a plaintext
    (development) SuperLink, the CA certificate to trust for it and that certificate's fingerprint."""
    document: dict[str, Any] = {"kind": "opendpg-node/1", "roles": ["coordinator"], FLEET: fleet}
    if ca_pem is not None:
        document.update({CA: ca_pem, CA_SHA256: fingerprint(ca_pem)})
    return document


def job_label(deployment: Deployment, job_id: int) -> bytes:
    """The label a job's node keys are derived under: the chain, the market and the job."""
    market = deployment.contracts["JobMarket"].address.lower()
    return f"opendpg-job:{deployment.chain_id}:{market}:{job_id}".encode()


def node_metadata(chain: Chain, store: ContentStore, node: str,
                  cache: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The metadata document ``node`` registered (by its CID, so the bytes are checked); {} if it has none.
    ``cache`` keeps documents by CID (content-addressed: a CID always names the same document)."""
    cid = chain.registry.metadata_cid_of(node)
    if not cid:
        return {}
    if cache is not None and cid in cache:
        return cache[cid]
    try:
        document = json.loads(store.get(cid))
    except ValueError as exc:
        raise ContentError(f"node {node}'s metadata {cid} is not JSON: {exc}") from None
    document = document if isinstance(document, dict) else {}
    if cache is not None:
        cache[cid] = document
    return document
