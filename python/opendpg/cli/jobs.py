"""``opendpg jobs …``: post, list, show, watch, plot, download, verify and cancel jobs through the gateway
(``OPENDPG_GATEWAY_URL`` and ``OPENDPG_API_KEY``, or ``--gateway``/``--api-key``). ``jobs post`` can also sign
with your own key (``--keystore``, ``--key-file`` or ``--direct`` with ``OPENDPG_PRIVATE_KEY``) and post straight
to the chain, pinning the spec to ``OPENDPG_IPFS_API``."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

from opendpg.chain import JobParams, job_budget
from opendpg.cli.signing import E18, add_chain_arguments, chain_from_args, parse_tokens
from opendpg.config import load_settings
from opendpg.content import open_store
from opendpg.dpg.datasets import with_asset_schema
from opendpg.dpg.market import post_job
from opendpg.errors import ConfigError, OpenDPGError
from opendpg.spec import SpecError, parse_spec

__all__ = ["register"]


class GatewayError(OpenDPGError):
    """The gateway refused a request; the message names the field at fault."""


def register(commands: Any) -> None:
    parser = commands.add_parser("jobs", help="post and follow training jobs through the gateway")
    parser.add_argument("--gateway", help="gateway URL (default: OPENDPG_GATEWAY_URL)")
    parser.add_argument("--api-key", help="API key (default: OPENDPG_API_KEY; prefer the variable: keys in "
                                          "command lines end up in shell histories)")
    sub = parser.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    post = sub.add_parser("post", help="post a job from a spec file (JSON)")
    post.add_argument("spec", type=Path)
    post.add_argument("--reward", required=True, help="reward per provider per round, whole tokens")
    post.add_argument("--coordinator", required=True, help="address of the coordinator node")
    post.add_argument("--stake", default="0", help="stake each provider locks, whole tokens")
    post.add_argument("--join-window", type=int, default=3600, help="seconds providers have to join")
    post.add_argument("--round-timeout", type=int, default=900, help="seconds per round")
    add_chain_arguments(post)
    post.add_argument("--direct", action="store_true", help="sign with OPENDPG_PRIVATE_KEY and post to the chain "
                                                           "(implied by --key-file/--keystore)")
    post.set_defaults(run=_post)
    plot = sub.add_parser("plot", help="the training curve (loss and accuracy per round) to a PNG")
    plot.add_argument("job_id", type=int)
    plot.add_argument("--out", type=Path, help="file to write (default job-ID-curve.png)")
    plot.set_defaults(run=_plot)
    sub.add_parser("list", help="your jobs").set_defaults(run=_list)
    for name, run, help_text in (("show", _show, "one job: state, providers, rounds, payments"),
                                 ("watch", _watch, "follow a job live until it ends"),
                                 ("verify", _verify, "audit a job (exit 1 on any mismatch)"),
                                 ("cancel", _cancel, "cancel a job nobody started; the escrow comes back")):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("job_id", type=int)
        command.set_defaults(run=run)
    download = sub.add_parser("download", help="the latest committed global model")
    download.add_argument("job_id", type=int)
    download.add_argument("--out", type=Path, help="file to write (default job-ID-round-R.odpgupd)")
    download.add_argument("--checkpoint", type=Path, metavar="FOLDER",
                          help="instead, a ready-to-load checkpoint into FOLDER: model.safetensors (LoRA adapters "
                               "merged into the base model) and its card opendpg-model.json")
    download.set_defaults(run=_download)


def _client(args: argparse.Namespace) -> httpx.Client:
    settings = load_settings()
    url = args.gateway or settings.gateway_url
    key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not url:
        raise ConfigError("no gateway: pass --gateway URL or set OPENDPG_GATEWAY_URL")
    if not key:
        raise ConfigError("no API key: set OPENDPG_API_KEY (create one with POST /api-keys or log in)")
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _check(response: httpx.Response) -> Any:
    if response.status_code < 400:
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail)
    raise GatewayError(f"the gateway answered {response.status_code}: {detail}")


def _post(args: argparse.Namespace) -> int:
    try:
        spec = json.loads(args.spec.read_text())
    except FileNotFoundError:
        raise ConfigError(f"spec: {args.spec} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"spec: {args.spec} is not valid JSON ({exc})") from None
    if args.direct or args.key_file is not None or args.keystore is not None:
        return _post_direct(args, spec)
    body = {"spec": spec, "reward_per_round": args.reward, "coordinator": args.coordinator,
            "required_stake": args.stake, "join_window_s": args.join_window, "round_timeout_s": args.round_timeout}
    with _client(args) as client:
        job = _check(client.post("/jobs", json=body))
    print(f"job {job['id']} posted: {job['budget']} tokens in escrow from {job['poster']}, spec {job['spec_cid']}, "
          f"tx {job['tx_hash']}")
    return 0


def _post_direct(args: argparse.Namespace, document: Any) -> int:
    """Validate, pin and post from the caller's own key: no gateway involved. A spec that names a dataset asset
    gets the asset's schema from its metadata."""
    from opendpg.dpg.basemodels import with_base_files  # torch: only for the commands that build models
    from opendpg.fl.models import check_model

    chain = chain_from_args(args)
    settings = load_settings()
    store = open_store(settings.ipfs_api, settings.state_dir)
    try:
        if isinstance(document, dict):  # a dataset asset's schema, a base model asset's files CID
            document = with_base_files(with_asset_schema(document, chain, store), chain, store)
        spec = parse_spec(document)
        check_model(spec)
    except SpecError as exc:
        raise ConfigError("spec: " + "; ".join(f"{field}: {message}" for field, message in exc.problems)) from None
    if not Web3.is_address(args.coordinator):
        raise ConfigError(f"--coordinator: {args.coordinator!r} is not an address")
    coordinator = Web3.to_checksum_address(args.coordinator)
    reward, stake = parse_tokens(args.reward, "--reward"), parse_tokens(args.stake, "--stake", positive=False)
    if not chain.registry.is_registered(coordinator):
        raise ConfigError(f"--coordinator: {coordinator} is not a registered node: name one from the node registry")
    budget = job_budget(reward, spec.training.rounds, spec.providers.max)
    balance = chain.token.balance_of(chain.sender.address)
    if balance < budget:
        raise ConfigError(f"--reward: the escrow needs {Decimal(budget) / E18} tokens (reward x rounds x max "
                          f"providers); {chain.sender.address} holds {Decimal(balance) / E18}")
    spec_cid = store.put(spec.to_bytes())
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    job_id = post_job(chain, JobParams(spec_cid, chain.token.address, budget, reward, spec.training.rounds,
                                       spec.providers.min, spec.providers.max, stake, now + args.join_window,
                                       args.round_timeout, coordinator), spec)
    print(f"job {job_id} posted: {Decimal(budget) / E18} tokens in escrow from {chain.sender.address}, "
          f"spec {spec_cid}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        jobs = _check(client.get("/jobs"))
    if not jobs:
        print("no jobs yet: post one with `opendpg jobs post SPEC.json`")
    for job in jobs:
        print(f"{job['id']:>6}  {job['state']:<10} {_bar(job['committed_rounds'], job['rounds'])}  "
              f"budget {job['budget']:>10}  credited {job['credited']:>10}")
    return 0


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _show(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = _check(client.get(f"/jobs/{args.job_id}"))
    print(f"job {job['id']}: {job['state']} {_bar(job['committed_rounds'], job['rounds'])}")
    print(f"  poster {job['poster']}, coordinator {job['coordinator']}, budget {job['budget']}, "
          f"credited {job['credited']}")
    for p in job["providers"]:
        print(f"  provider {p['address']}{' (dropped)' if p['dropped'] else ''}, missed {p['missed_rounds']}")
    for r in job["history"]:
        print(f"  round {r['round']}: global {r['global_hash'][:16]}… ({r['global_cid']}), {len(r['used'])} used")
        for u in r["updates"]:
            print(f"    {u['provider']}: {u['hash'][:16]}… {u['cid']}")
    for pay in job["payments"]:
        print(f"  {pay['kind']}: {pay['account']} {pay['amount']}")
    return 0


def _watch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = _check(client.get(f"/jobs/{args.job_id}"))
        rounds, name = job["rounds"], ""
        with client.stream("GET", f"/jobs/{args.job_id}/events", timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                _check(response)
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))["args"]
                    if name == "RoundCommitted":
                        print(f"{_bar(int(data['round']), rounds)} round {data['round']} committed, "
                              f"{data['usedCount']} updates used", flush=True)
                    elif name in ("UpdateSubmitted", "ProviderJoined", "ProviderDropped"):
                        print(f"  {name} {data.get('provider')}", flush=True)
                    else:
                        print(name, flush=True)
    return 0


def _plot(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = _check(client.get(f"/jobs/{args.job_id}"))
    if not job["history"]:
        raise GatewayError(f"job {args.job_id} has no committed round yet: nothing to plot")
    points = [(r["round"], r["loss"], r["accuracy"]) for r in job["history"] if r["loss"] is not None]
    if not points:
        raise GatewayError(f"the gateway has not evaluated job {args.job_id}'s rounds yet: try again in a few seconds")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rounds, losses, accuracies = zip(*points, strict=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(rounds, losses, marker="o")
    left.set(title="loss (held-out)", xlabel="round")
    right.plot(rounds, accuracies, marker="o", color="tab:green")
    right.set(title="accuracy (held-out)", xlabel="round", ylim=(0, 1))
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(f"job {args.job_id}: {job['state']}, {job['committed_rounds']}/{job['rounds']} rounds")
    figure.tight_layout()
    out = args.out or Path(f"job-{args.job_id}-curve.png")
    figure.savefig(out, dpi=120)
    plt.close(figure)
    failed = [f"round {r['round']}: {r['metrics_error']}" for r in job["history"] if r.get("metrics_error")]
    pending = len(job["history"]) - len(points) - len(failed)
    print(f"wrote {out}: {len(points)} round(s), last accuracy {accuracies[-1]:.3f}"
          + (f" ({pending} round(s) not evaluated yet)" if pending else ""))
    for line in failed:
        print(f"  not plotted, {line}")
    return 0


def _download(args: argparse.Namespace) -> int:
    if args.checkpoint is not None:
        return _download_checkpoint(args)
    with _client(args) as client:
        response = client.get(f"/jobs/{args.job_id}/model")
        if response.status_code >= 400:
            _check(response)
    out = args.out or Path(f"job-{args.job_id}-round-{response.headers['X-OpenDPG-Round']}.odpgupd")
    out.write_bytes(response.content)
    print(f"wrote {out} ({len(response.content)} bytes, round {response.headers['X-OpenDPG-Round']}, "
          f"sha256 {response.headers['X-OpenDPG-SHA256']}, checked against the chain)")
    return 0


def _download_checkpoint(args: argparse.Namespace) -> int:
    from opendpg.dpg.basemodels import unpack_model
    from opendpg.fl.basemodel import CARD_FILE, WEIGHTS_FILE, BaseModelError

    folder: Path = args.checkpoint
    if folder.exists() and any(folder.iterdir()):
        raise OpenDPGError(f"--checkpoint: {folder} is not empty; name a new folder")
    with _client(args) as client:
        response = client.get(f"/jobs/{args.job_id}/checkpoint", timeout=600)
        if response.status_code >= 400:
            _check(response)
    folder.mkdir(parents=True, exist_ok=True)
    try:  # safely, and read as a model: safetensors and a card, no pickle
        unpack_model(response.content, folder, "the checkpoint the gateway sent")
    except BaseModelError as exc:
        raise OpenDPGError(str(exc)) from None
    card = json.loads((folder / CARD_FILE).read_text())
    print(f"wrote {folder / WEIGHTS_FILE} and {folder / CARD_FILE}: {card['name']}, {card['outputs']} outputs, the "
          f"global model of round {response.headers['X-OpenDPG-Round']} (sha256 "
          f"{response.headers['X-OpenDPG-SHA256']}, checked against the chain)")
    print(f"load it with opendpg.fl.basemodel.load_model('{folder}'), or publish it as a base model: "
          f"opendpg model publish {folder} --metadata META.json")
    return 0


def _verify(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = _check(client.post(f"/jobs/{args.job_id}/verify"))
    for r in result["rounds"]:
        print(f"job {args.job_id} round {r['round']}: {'OK' if r['ok'] else 'MISMATCH ' + '; '.join(r['problems'])}")
    return 0 if result["ok"] else 1


def _cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = _check(client.post(f"/jobs/{args.job_id}/cancel"))
    print(f"job {job['id']}: {job['state']}; escrow returned to {job['poster']}")
    return 0

