"""Gateway benchmark (``make bench``): job posting throughput under load, and read latency under the same load.

Real components started here: anvil, kubo, the contracts, the gateway as its own process (uvicorn, SQLite).

- **throughput**: ``--clients`` concurrent HTTP clients (spread over ``--accounts`` gateway accounts, each its own
  on-chain address) post jobs with distinct specs for ``--seconds``, twice: *sync* (each request waits until its
  job is mined and indexed: 201) and *async* (``Prefer: respond-async``: 202 once the job is durably recorded;
  jobs/s counts up to the moment the last accepted job was on-chain). Afterwards every ``JobPosted`` on the chain
  is matched with the answers: each 2xx must name exactly one on-chain job posted from that account with that
  spec, and no bench account may have a job on-chain that no 2xx announced (none lost, none doubled).
  Reported: jobs/s, p50/p99 latency, and the ratio to raw pre-signed transactions/s measured against the same
  anvil in the same run (as many concurrent senders, ``eth_sendRawTransaction`` of pre-signed transfers, until
  the last is mined). Target ratio >= 0.5.
- **reads**: ``--readers`` further clients read job detail and job list while the posting runs: p50/p99.
- **HTTP alone**: the same clients against ``GET /health`` (one ``SELECT 1``) and ``GET /docs`` (a static page)
  for a few seconds: what this gateway process can answer on this machine at all, for scale.
- **chain alone**: on a second, fresh anvil started the same way, raw transfers/s again and then, for as many
  seconds as a gateway run, ``postJobs`` batches of 128 sent straight to the node (no gateway, no HTTP, no
  IPFS): the most jobs/s any gateway could reach in such a run on this chain and machine, and its ratio to raw.
  (Anvil slows down as its state grows, so this depends on the run's length, as the gateway's figure does.)

``--smoke`` runs a tiny version (the test suite runs it so the benchmark keeps working).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from opendpg.chain import Capabilities, Chain, JobParams, LocalChain, SuiteParams, TxSender, connect, deploy_suite
from opendpg.content import KuboDaemon, cid_of
from opendpg.gateway.posting import GAS_BASE, GAS_PER_JOB
from opendpg.node.launch import launch_gateway, wait_healthy
from opendpg.process import free_port, stop_process_group
from opendpg.spec import parse_spec

E18 = 10**18


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _spec(client: int, seq: int) -> dict[str, Any]:
    return {"name": f"bench client {client} job {seq}", "model": {"name": "mlp", "hidden_units": 16},
            "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
            "training": {"rounds": 2, "local_epochs": 1},
            "providers": {"min": 1, "max": 2}}


class _Rpc:
    """JSON-RPC over one aiohttp session (as many connections as senders)."""

    def __init__(self, url: str, connections: int) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))

    async def __aenter__(self) -> _Rpc:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def call(self, method: str, params: list[Any]) -> Any:
        async with self.http.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                  "params": params}) as response:
            body = await response.json()
        if "error" in body:
            raise RuntimeError(f"{method} refused: {body['error']}")
        return body["result"]

    async def send(self, tx: Any) -> None:
        await self.call("eth_sendRawTransaction", [tx.raw_transaction.to_0x_hex()])

    async def mined(self, tx: Any, timeout: float = 120.0, sent: list[Any] | None = None) -> None:
        """Wait for ``tx``'s receipt. Under load anvil's automine can leave transactions that arrived mid-block
        pending (mine them), and now and then loses one, which leaves the sender's later ones queued behind a
        nonce gap for ever (seen once in a CI run): after a second without a receipt, ``sent`` (the sender's
        transactions, in nonce order, ``tx`` last) is sent again; those already in are refused and ignored."""
        deadline = time.perf_counter() + timeout
        resend_at = time.perf_counter() + 1.0
        while not (receipt := await self.call("eth_getTransactionReceipt", [tx.hash.to_0x_hex()])):
            if int((await self.call("txpool_status", []))["pending"], 16):
                await self.call("evm_mine", [])
            now = time.perf_counter()
            if now > deadline:
                raise RuntimeError(f"pre-signed transaction not mined within {timeout} s")
            if now > resend_at:
                for again in sent or [tx]:
                    with contextlib.suppress(RuntimeError):  # "already known", "nonce too low"
                        await self.send(again)
                resend_at = now + 1.0
            await asyncio.sleep(0.002)
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"pre-signed transaction {tx.hash.to_0x_hex()} reverted")


def _fee_fields(w3: Any, sender: Any) -> dict[str, Any]:
    return {"nonce": w3.eth.get_transaction_count(sender.address, "pending"), "chainId": w3.eth.chain_id,
            "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9}


async def _raw_tx_rate(rpc_url: str, w3: Any, senders: list[Any], count: int) -> dict[str, Any]:
    """Pre-sign ``count`` transfers spread over ``senders`` (one connection each, sending its own in nonce
    order), send them all, stop the clock when the last of every sender is mined."""
    per_sender = max(1, count // len(senders))
    signed: list[list[Any]] = []
    for sender in senders:
        fields = _fee_fields(w3, sender)
        signed.append([sender.sign_transaction(fields | {"to": sender.address, "value": 0, "gas": 21_000,
                                                         "nonce": fields["nonce"] + i}) for i in range(per_sender)])
    async with _Rpc(rpc_url, len(senders)) as rpc:
        async def send_all(txs: list[Any]) -> None:
            for tx in txs:
                await rpc.send(tx)
            await rpc.mined(txs[-1], sent=txs)

        started = time.perf_counter()
        await asyncio.gather(*(send_all(txs) for txs in signed))
        seconds = time.perf_counter() - started
    total = per_sender * len(senders)
    return {"transactions": total, "seconds": seconds, "tx_per_s": total / seconds, "senders": len(senders)}


async def _chain_job_rate(chain: Chain, senders: list[Any], coordinator: str, seconds: float,
                          batch: int = 128) -> dict[str, Any]:
    """The most jobs/s the chain itself takes in ``seconds``, with no gateway: ``postJobs`` batches of ``batch``
    from ``senders`` (funded and approved first), each sender signing its next batch while the others mine and
    keeping one transaction in flight (a flood of big transactions is slower here); only mined jobs count."""
    w3, market = chain.w3, chain.market
    reward, rounds, max_providers = 10**15, 2, 2
    allowance = reward * rounds * max_providers * 10**7
    for sender in senders:
        chain.token.transfer(sender.address, allowance)
        chain.as_account(TxSender(w3, sender)).token.approve(market.address, allowance)
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3600
    cid = cid_of(b"chain alone")
    mined = 0
    async with _Rpc(chain.w3.provider.endpoint_uri, len(senders)) as rpc:  # type: ignore[attr-defined]
        async def post(s: int, sender: Any, stop_at: float) -> None:
            nonlocal mined
            fields = _fee_fields(w3, sender)
            for i in itertools.count():
                if time.perf_counter() >= stop_at:
                    return
                params = [JobParams(cid, chain.token.address, reward * rounds * max_providers, reward, rounds, 1,
                                    max_providers, 0, deadline + s, 600, coordinator).as_tuple()] * batch
                tx = sender.sign_transaction(fields | {
                    "to": market.address, "data": market.encode("postJobs", params), "value": 0,
                    "gas": GAS_BASE + GAS_PER_JOB * batch, "nonce": fields["nonce"] + i})
                await rpc.send(tx)
                await rpc.mined(tx)
                mined += batch

        started = time.perf_counter()
        await asyncio.gather(*(post(s, sender, started + seconds) for s, sender in enumerate(senders)))
        elapsed = time.perf_counter() - started
    return {"jobs": mined, "batch": batch, "senders": len(senders), "seconds": elapsed, "jobs_per_s": mined / elapsed}


class Load:
    def __init__(self, url: str, keys: list[str], coordinator: str, seconds: float,
                 respond_async: bool = False) -> None:
        self.respond_async = respond_async
        self.url = url
        self.keys = keys
        self.coordinator = coordinator
        self.seconds = seconds
        self.posted: list[dict[str, Any]] = []  # one per 2xx: key index, job id, spec cid, latency
        self.failures: dict[int, int] = {}
        self.post_latency: list[float] = []
        self.read_latency: dict[str, list[float]] = {"detail": [], "list": []}
        self.read_errors = 0

    async def poster(self, http: aiohttp.ClientSession, client: int, stop_at: float) -> None:
        key_index = client % len(self.keys)
        headers = {"Authorization": f"Bearer {self.keys[key_index]}"}
        if self.respond_async:
            headers["Prefer"] = "respond-async"
        seq = 0
        while time.perf_counter() < stop_at:
            body = {"spec": _spec(client, seq), "reward_per_round": "0.001", "coordinator": self.coordinator,
                    "join_window_s": 3600, "round_timeout_s": 600}
            seq += 1
            started = time.perf_counter()
            async with http.post(f"{self.url}/jobs", json=body, headers=headers) as response:
                payload = await response.json()
                latency = time.perf_counter() - started
                if response.status == 201:
                    self.post_latency.append(latency)
                    self.posted.append({"key": key_index, "job": payload["id"], "spec_cid": payload["spec_cid"],
                                        "name": body["spec"]["name"]})
                elif response.status == 202:
                    self.post_latency.append(latency)
                    self.posted.append({"key": key_index, "submission": payload["status_url"], "spec": body["spec"]})
                else:
                    self.failures[response.status] = self.failures.get(response.status, 0) + 1

    async def reader(self, http: aiohttp.ClientSession, client: int, stop_at: float) -> None:
        key_index = client % len(self.keys)
        headers = {"Authorization": f"Bearer {self.keys[key_index]}"}
        rng = random.Random(client)
        while time.perf_counter() < stop_at:
            mine = [p["job"] for p in self.posted[-500:] if p["key"] == key_index and p.get("job")]
            for kind, path in (("list", "/jobs?limit=50"), ("detail", f"/jobs/{rng.choice(mine)}" if mine else None)):
                if path is None:
                    continue
                started = time.perf_counter()
                async with http.get(f"{self.url}{path}", headers=headers) as response:
                    await response.read()
                    if response.status == 200:
                        self.read_latency[kind].append(time.perf_counter() - started)
                    else:
                        self.read_errors += 1
            await asyncio.sleep(0.1)  # a sample of reads, not a read-load test

    async def ceiling(self, clients: int, seconds: float, path: str = "/health") -> float:
        """Requests/s the same clients get from ``GET /health`` (no database, no chain): what HTTP alone allows."""
        count = 0
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:
            async def one(stop_at: float) -> None:
                nonlocal count
                while time.perf_counter() < stop_at:
                    async with http.get(f"{self.url}{path}") as response:
                        await response.read()
                        count += response.status == 200

            started = time.perf_counter()
            await asyncio.gather(*(one(started + seconds) for _ in range(clients)))
            return count / (time.perf_counter() - started)

    async def settle(self, chain: Chain, jobs_before: int) -> float:
        """Async mode: wait (watching the chain, not the gateway) until every accepted job is on-chain or nothing
        new landed for 20 s; note when; then look up each submission for the accounting, waiting (up to a minute)
        for those the gateway has not recorded as posted or failed yet: on a busy machine a job can be on-chain
        before the gateway has read its receipt."""
        target, last_count, last_change = jobs_before + len(self.posted), -1, time.perf_counter()
        while True:
            count = await asyncio.to_thread(chain.market.job_count)
            now = time.perf_counter()
            if count != last_count:
                last_count, last_change = count, now
            if count >= target or now - last_change > 20:
                break
            await asyncio.sleep(0.05)
        landed = last_change
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as http:
            async def one(item: dict[str, Any]) -> None:
                headers = {"Authorization": f"Bearer {self.keys[item['key']]}"}
                until = time.perf_counter() + 60
                while True:
                    async with http.get(f"{self.url}{item['submission']}", headers=headers) as response:
                        state = await response.json()
                    if state["status"] not in ("queued", "sending") or time.perf_counter() > until:
                        break
                    await asyncio.sleep(0.2)
                item["job"] = state["job_id"]
                item["spec_cid"] = cid_of(parse_spec(item["spec"]).to_bytes())
                if state["status"] != "posted":
                    key = f"{state['status']} {(state.get('error') or {}).get('status', '')}".strip()
                    self.failures[key] = self.failures.get(key, 0) + 1

            for start in range(0, len(self.posted), 200):
                await asyncio.gather(*(one(item) for item in self.posted[start:start + 200]))
        return landed

    async def run(self, clients: int, readers: int) -> float:
        connector = aiohttp.TCPConnector(limit=clients + readers)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as http:
            started = time.perf_counter()
            stop_at = started + self.seconds
            await asyncio.gather(*(self.poster(http, c, stop_at) for c in range(clients)),
                                 *(self.reader(http, r, stop_at) for r in range(readers)))
            return time.perf_counter() - started


def _sign_up(url: str, count: int) -> tuple[list[str], list[str]]:
    import httpx

    keys, addresses = [], []
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(count):
            credentials = {"email": f"bench{i}@opendpg.local", "password": "benchmark password"}
            account = http.post("/accounts", json=credentials)
            account.raise_for_status()
            token = http.post("/auth/login", json=credentials).json()["token"]
            funded = http.post("/faucet", headers={"Authorization": f"Bearer {token}"})
            funded.raise_for_status()
            keys.append(token)
            addresses.append(account.json()["address"])
    return keys, addresses


def _check(chain: Chain, first_block: int, load: Load, addresses: list[str]) -> dict[str, Any]:
    """Every 2xx ↔ exactly one on-chain job of that account with that spec; nothing else from the accounts."""
    logs = chain.market.contract.events.JobPosted().get_logs(from_block=first_block)
    on_chain = {int(log["args"]["jobId"]): log["args"] for log in logs}
    ours = {job_id: args for job_id, args in on_chain.items() if args["poster"] in set(addresses)}
    answered = [p["job"] for p in load.posted if p.get("job") is not None]
    doubled = len(answered) - len(set(answered))
    wrong = [p for p in load.posted if p.get("job") not in ours or ours[p["job"]]["poster"] != addresses[p["key"]]
             or ours[p["job"]]["params"]["specCid"] != p["spec_cid"]]
    unannounced = sorted(set(ours) - set(answered))
    return {"answered_2xx": len(load.posted), "on_chain": len(ours), "doubled": doubled, "mismatched": len(wrong),
            "on_chain_without_2xx": len(unannounced), "ok": not doubled and not wrong and not unannounced}


async def _chain_alone(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """On a second, fresh anvil started like the first: raw transfers/s, then ``postJobs`` jobs/s with no gateway,
    from the same state. The second is the most jobs/s any gateway could reach on this chain and machine."""
    local = LocalChain(accounts=max(10, args.clients + 3), log_file=work / "chain-alone.log").start()
    try:
        w3 = connect(local.rpc_url)
        accounts = local.dev_accounts()
        chain = Chain(w3, deploy_suite(TxSender(w3, accounts[0]), SuiteParams(checkers=[accounts[0].address])),
                      TxSender(w3, accounts[0]))
        raw = await _raw_tx_rate(local.rpc_url, w3, accounts[3:3 + args.clients], args.raw)
        jobs = await _chain_job_rate(chain, accounts[3:3 + args.accounts], accounts[1].address, args.seconds)
        return {"raw": raw, "postJobs": jobs, "ratio_to_raw": jobs["jobs_per_s"] / raw["tx_per_s"]}
    finally:
        local.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work or tempfile.mkdtemp(prefix="opendpg-bench-gw-"))
    work.mkdir(parents=True, exist_ok=True)
    local = LocalChain(accounts=max(10, args.clients + 3), log_file=work / "chain.log").start()
    kubo = KuboDaemon(work / "ipfs").start()
    gateway = None
    try:
        w3 = connect(local.rpc_url)
        accounts = local.dev_accounts()
        deployer, coordinator, raw_senders = accounts[0], accounts[1], accounts[3:3 + args.clients]
        chain = Chain(w3, deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address])),
                      TxSender(w3, deployer))
        chain.deployment.save(work / "deployment.json")
        chain.token.transfer(coordinator.address, 1_000 * E18)
        chain.as_account(TxSender(w3, coordinator)).registry.register(
            Capabilities("CPU", 0, 2, 4096, "local", [], ""), 100 * E18)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {"OPENDPG_RPC_URL": local.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(work / "deployment.json"),
               "OPENDPG_IPFS_API": kubo.api_url, "OPENDPG_PRIVATE_KEY": deployer.key.hex(),
               "OPENDPG_STATE_DIR": str(work / "gateway"), "OPENDPG_ENVIRONMENT": "development",
               "OPENDPG_GATEWAY_RATE_LIMIT": "1000000", "OPENDPG_POLL_INTERVAL": "0.2"}
        gateway = launch_gateway(port, env, work / "gateway.log")
        wait_healthy(url, gateway, work / "gateway.log")
        keys, addresses = _sign_up(url, args.accounts)

        raw = await _raw_tx_rate(local.rpc_url, w3, raw_senders, args.raw)
        probe = Load(url, keys, coordinator.address, args.seconds)
        http_ceiling = await probe.ceiling(args.clients, min(5.0, args.seconds))
        bare_ceiling = await probe.ceiling(args.clients, min(5.0, args.seconds), "/docs")
        report: dict[str, Any] = {
            "settings": {"clients": args.clients, "accounts": args.accounts, "readers": args.readers,
                         "seconds": args.seconds, "database": "sqlite", "gateway_batch_max": 64},
            "raw": raw,
            "http_ceiling": {"health_rps": http_ceiling, "ratio_to_raw": http_ceiling / raw["tx_per_s"],
                             "docs_rps": bare_ceiling, "docs_ratio_to_raw": bare_ceiling / raw["tx_per_s"]}}
        for mode, respond_async in (("sync", False), ("async", True)):
            first_block = int(w3.eth.block_number) + 1
            jobs_before = chain.market.job_count()
            load = Load(url, keys, coordinator.address, args.seconds, respond_async=respond_async)
            started = time.perf_counter()
            wall = await load.run(args.clients, args.readers)
            settled = (await load.settle(chain, jobs_before) - started) if respond_async else wall
            posted = sum(1 for p in load.posted if p.get("job") is not None)
            report[mode] = {
                "answers_2xx": len(load.posted), "answered_per_s": len(load.posted) / wall, "wall_s": wall,
                "posted": posted, "posted_by_s": settled, "jobs_per_s": posted / settled,
                "ratio_to_raw": posted / settled / raw["tx_per_s"],
                "p50_ms": _pct(load.post_latency, 50) * 1000, "p99_ms": _pct(load.post_latency, 99) * 1000,
                "failures": load.failures,
                "reads": {kind: {"requests": len(values), "p50_ms": _pct(values, 50) * 1000,
                                 "p99_ms": _pct(values, 99) * 1000,
                                 "mean_ms": statistics.fmean(values) * 1000 if values else 0.0}
                          for kind, values in load.read_latency.items()} | {"errors": load.read_errors},
                "accounting": _check(chain, first_block, load, addresses),
            }
    finally:
        if gateway is not None:
            stop_process_group(gateway)
        kubo.stop()
        local.stop()
    report["chain_alone"] = await _chain_alone(args, work)
    return report


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--raw", type=int, default=2000, help="pre-signed transactions for the raw rate")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (2 s, 4 clients)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/gateway.json"))
    parser.add_argument("--work", type=Path, help="folder for the chain, kubo and gateway state")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # unwind like Ctrl-C: the chain and daemons started are stopped
    if args.smoke:
        args.clients, args.accounts, args.readers, args.seconds, args.raw = 4, 2, 1, 2.0, 200
    report = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    raw, ceiling = report["raw"], report["http_ceiling"]
    print(f"raw pre-signed: {raw['tx_per_s']:.0f} tx/s ({raw['transactions']} in {raw['seconds']:.2f} s)")
    print(f"HTTP alone, same clients: GET /health (one SELECT 1) {ceiling['health_rps']:.0f} requests/s, "
          f"GET /docs (a static page) {ceiling['docs_rps']:.0f} requests/s")
    alone, jobs = report["chain_alone"], report["chain_alone"]["postJobs"]
    print(f"chain alone (fresh anvil, no gateway): raw {alone['raw']['tx_per_s']:.0f} tx/s; postJobs of "
          f"{jobs['batch']} from {jobs['senders']} accounts for as long: {jobs['jobs']} jobs in {jobs['seconds']:.1f} "
          f"s = {jobs['jobs_per_s']:.0f} jobs/s, ratio {alone['ratio_to_raw']:.2f} (the most any gateway could reach)")
    ok = True
    for mode in ("sync", "async"):
        t = report[mode]
        print(f"{mode}: {t['answers_2xx']} answers in {t['wall_s']:.1f} s ({t['answered_per_s']:.1f}/s, p50 "
              f"{t['p50_ms']:.0f} ms, p99 {t['p99_ms']:.0f} ms); {t['posted']} jobs on-chain by "
              f"{t['posted_by_s']:.1f} s = {t['jobs_per_s']:.1f} jobs/s, ratio {t['ratio_to_raw']:.2f}; "
              f"failures {t['failures']}")
        for kind in ("detail", "list"):
            r = t["reads"][kind]
            print(f"  read {kind}: {r['requests']} requests, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
        print(f"  accounting: {t['accounting']}")
        ok = ok and t["accounting"]["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
