"""The federation across hosts: the chain and IPFS, the coordinator and each provider each on a host of their own
(network namespaces joined by a bridge, each with its own address), a full job over TLS with SuperNodes admitted
from the chain's job roster. Shown on the way: an unjoined provider's SuperNode is refused, a SuperNode given the
wrong CA refuses the SuperLink, the Control API cannot be reached from a provider's host, and a provider whose link
is cut mid-job is dropped at the round deadline while the job completes with the others."""

import json
import sys
import textwrap

import pytest

from opendpg.chain import Chain, JobState, LocalChain, SuiteParams, TxSender, connect, deploy_suite
from opendpg.content import KuboDaemon, KuboStore
from opendpg.spec import parse_spec
from tests.python.integration.hosts import Hosts, available
from tests.python.integration.stack import Stack, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not available(), reason="needs root and `ip` to make network namespaces")]

ROUNDS, ROUND_TIMEOUT, FLEET_PORT, CONTROL_PORT = 3, 60, 9092, 9093


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts")
    hosts = Hosts()
    infra, coord = hosts.add("infra"), hosts.add("coord")
    providers = [hosts.add(f"p{i}") for i in range(3)]
    outsider = hosts.add("outsider")
    chain = LocalChain(accounts=20, host=infra.address, wrapper=infra.wrapper, log_file=root / "anvil.log")
    kubo = KuboDaemon(root / "ipfs", host=infra.address, wrapper=infra.wrapper)
    stack = None
    try:
        chain.start()
        kubo.start()
        w3 = connect(chain.rpc_url)
        accounts = chain.dev_accounts()
        deployer = accounts[0]
        deployment = deploy_suite(TxSender(w3, deployer), SuiteParams(checkers=[deployer.address]))
        deployment.save(root / "deployment.json")
        stack = Stack(chain.rpc_url, chain.ws_url, deployment, root / "deployment.json", kubo,
                      Chain(w3, deployment, TxSender(w3, deployer)), root)
        yield stack, hosts, accounts, coord, providers, outsider
    finally:
        if stack is not None:
            stack.stop_all()
        kubo.stop()
        chain.stop()
        hosts.close()


def _python(host, code: str, timeout: float = 120.0) -> str:
    result = host.run(sys.executable, "-c", textwrap.dedent(code), timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def finished(world):
    stack, _hosts, accounts, coord, providers, outsider = world
    coordinator, poster, outside = accounts[1], accounts[2], accounts[6]
    nodes = accounts[3:6]
    stack.fund(coordinator, poster, outside, *nodes)
    stack.start_coordinator(coordinator, wrapper=coord.wrapper, min_round_timeout=30, flower={
        "host": coord.address, "port": FLEET_PORT, "control_port": CONTROL_PORT})
    for i, (node, host) in enumerate(zip(nodes, providers, strict=True)):
        stack.start_agent(node, f"agent-{i}", (i, 3), wrapper=host.wrapper, min_round_timeout=30)
    # a provider on its own host that does not take the job (it wants a higher reward)
    stack.start_agent(outside, "outsider", (0, 3), wrapper=outsider.wrapper, min_round_timeout=30,
                      min_reward_per_round="1000")
    stack.wait_registered(coordinator, *nodes, outside)
    store = KuboStore(stack.kubo.api_url)
    spec = parse_spec({
        "name": "digits across hosts", "model": {"name": "mlp", "hidden_units": 32},
        "dataset": {"mode": "simulate", "catalog_id": "sklearn/digits"},
        "training": {"rounds": ROUNDS, "local_epochs": 4, "batch_size": 16, "learning_rate": 0.05},
        "providers": {"min": 2, "max": 3}})
    job_id = stack.post(poster, store.put(spec.to_bytes()), coordinator, rounds=ROUNDS, min_p=2, max_p=3,
                        round_timeout=ROUND_TIMEOUT)
    market = stack.admin.market
    wait_for(lambda: market.get_job(job_id).committed_rounds >= 1, 300, "round 1 to be committed", interval=0.02)
    providers[2].cut()  # provider 2's cable is pulled as round 2 starts
    seen = {}

    # an unjoined provider's SuperNode, with the key it would have for this job, pointed at the SuperLink
    seen["outsider"] = json.loads(_python(outsider, f"""
        import json
        from pathlib import Path
        from opendpg.chain import Deployment
        from opendpg.fl.federation import SuperNodeLink, start_supernode
        from opendpg.fl.nodekeys import derive_node_key, load_or_create_node_key, write_node_key
        from opendpg.node.flower import job_label
        root = Path({str(stack.root / "outsider")!r})
        label = job_label(Deployment.load(Path({str(stack.deployment_file)!r})), {job_id})
        key = derive_node_key(load_or_create_node_key(root / "flower-node.key"), label)
        ca = Path({str(stack.root / "coordinator" / "tls" / "ca.pem")!r})  # what the coordinator publishes
        link = SuperNodeLink(ca, write_node_key(root / "intruder.key", key))
        proc = start_supernode(root / "intruder", "{coord.address}:{FLEET_PORT}", "x", {{"provider": "0x0"}}, link)
        print(json.dumps({{"exit": proc.wait(60),
                           "log": (root / "intruder" / "supernode-x.log").read_text()[-4000:]}}))
    """))
    # a SuperNode given another CA than the coordinator's, and the check agents make before connecting
    seen["wrong_ca"] = json.loads(_python(providers[0], f"""
        import json
        from pathlib import Path
        from opendpg.fl.federation import SuperNodeLink, start_supernode
        from opendpg.fl.tls import TlsError, check_endpoint, ensure_tls
        root = Path({str(stack.root / "mitm")!r})
        other = ensure_tls(root / "tls", ["{coord.address}"], subject="not the coordinator")
        proc = start_supernode(root, "{coord.address}:{FLEET_PORT}", "y", {{"provider": "0x0"}},
                               SuperNodeLink(other.ca_cert))
        try:
            check_endpoint("{coord.address}:{FLEET_PORT}", other.ca_pem())
            refused = ""
        except TlsError as exc:
            refused = str(exc)
        print(json.dumps({{"exit": proc.wait(60), "refused": refused,
                           "log": (root / "supernode-y.log").read_text()[-4000:]}}))
    """))
    # the Control API from a provider's host: not on the SuperLink's address, not through the Fleet listener
    seen["control"] = json.loads(_python(providers[1], f"""
        import json, socket, ssl, httpx
        try:
            socket.create_connection(("{coord.address}", {CONTROL_PORT}), timeout=5).close()
            direct = "connected"
        except OSError as exc:
            direct = type(exc).__name__
        trust = ssl.create_default_context()
        trust.check_hostname, trust.verify_mode = False, ssl.CERT_NONE
        fleet = httpx.post("https://{coord.address}:{FLEET_PORT}/v1/control/list-nodes", verify=trust,
                           content=b"").status_code
        print(json.dumps({{"direct": direct, "through_fleet": fleet}}))
    """))

    wait_for(lambda: market.get_job(job_id).state == JobState.FINISHED, 900, "the job to be finalized")
    providers[2].mend()
    stack.stop_all()
    return stack, job_id, nodes, seen


def test_the_job_completes_across_hosts_over_tls(finished):
    stack, job_id, nodes, _ = finished
    market = stack.admin.market
    assert market.get_job(job_id).committed_rounds == ROUNDS
    metadata = json.loads(KuboStore(stack.kubo.api_url).get(stack.admin.registry.metadata_cid_of(
        market.get_job(job_id).coordinator)))
    assert metadata["flower_ca"].startswith("-----BEGIN CERTIFICATE-----")
    for i in range(2):
        started = [e for e in stack.log(f"agent-{i}") if e["msg"] == "SuperNode started"]
        assert started and all(e["tls"] for e in started)
    used = [json.loads((stack.root / "coordinator" / "rounds" / f"job-{job_id}" / f"round-{r}.json").read_text())
            ["used"] for r in range(1, ROUNDS + 1)]
    assert sorted(used[0]) == sorted(n.address for n in nodes)
    assert all(sorted(n.address for n in nodes[:2]) == sorted(u) for u in used[2:])


def test_the_cut_provider_is_dropped_at_the_deadline(finished):
    stack, job_id, nodes, _ = finished
    market = stack.admin.market
    cut = market.participant_of(job_id, nodes[2].address)
    assert cut.dropped and cut.dropped_after in (1, 2)  # its cable went as round 2 started
    assert not any(market.participant_of(job_id, n.address).dropped for n in nodes[:2])
    rounds = stack.root / "coordinator" / "models" / f"job-{job_id}"
    missed = json.loads((rounds / f"round-{cut.dropped_after + 1}.json").read_text())
    assert nodes[2].address not in missed["used"]
    assert missed["timing"]["seconds"] >= ROUND_TIMEOUT - 5  # the round waited for it until the deadline


def test_an_unjoined_providers_supernode_is_refused(finished):
    *_, seen = finished
    assert seen["outsider"]["exit"] != 0 or "Failed to activate SuperNode" in seen["outsider"]["log"]
    assert "Failed to activate SuperNode" in seen["outsider"]["log"]


def test_a_supernode_given_the_wrong_ca_refuses(finished):
    *_, seen = finished
    assert seen["wrong_ca"]["exit"] != 0
    assert "certificate verify failed" in seen["wrong_ca"]["log"]
    assert "does not vouch for" in seen["wrong_ca"]["refused"]


def test_the_control_api_is_out_of_a_providers_reach(finished):
    *_, seen = finished
    assert seen["control"] == {"direct": "ConnectionRefusedError", "through_fleet": 404}
