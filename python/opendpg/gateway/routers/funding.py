"""Funding accounts: the development faucet, and operator credits. Gas is paid from each account's own address,
so what a user does on-chain is attributable to that user."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, HTTPException, status

from opendpg.chain import Chain
from opendpg.gateway.chain import GatewayChain
from opendpg.gateway.deps import ChainDep, CurrentUser, OperatorUser, SessionDep, SettingsDep
from opendpg.gateway.models import User
from opendpg.gateway.posting import NO_GAS
from opendpg.gateway.schemas import Credit, Funded

router = APIRouter(tags=["funding"])

E18 = Decimal(10**18)
FAUCET = Credit(tokens=Decimal(1000), eth=Decimal(1))


def require_gas(chain: Chain, address: str) -> None:
    """402 naming the fix when the account cannot pay for a transaction."""
    if chain.w3.eth.get_balance(address) == 0:  # type: ignore[arg-type]
        raise HTTPException(status.HTTP_402_PAYMENT_REQUIRED, detail=NO_GAS)


def _fund(chain: GatewayChain, address: str, credit: Credit) -> Funded:
    if chain.operator is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="no operator account configured (OPENDPG_PRIVATE_KEY) to fund from")
    if credit.tokens:
        chain.operator.token.transfer(address, int(credit.tokens * E18))
    if credit.eth:
        sender = chain.operator.sender
        sender.wait(sender.send_tx({"to": address, "value": int(credit.eth * E18), "data": b""}))
    return Funded(address=address, tokens=str(Decimal(chain.reader.token.balance_of(address)) / E18),
                  eth=str(Decimal(chain.reader.w3.eth.get_balance(address)) / E18))  # type: ignore[arg-type]


@router.post("/faucet", response_model=Funded)
def faucet(user: CurrentUser, chain: ChainDep, settings: SettingsDep) -> Funded:
    """Development only: 1000 tokens and 1 ether of gas to the caller's address."""
    if settings.environment != "development":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the faucet exists only in development")
    return _fund(chain, user.address, FAUCET)


@router.post("/accounts/{user_id}/credit", response_model=Funded)
def credit(user_id: int, body: Credit, operator: OperatorUser, session: SessionDep, chain: ChainDep) -> Funded:
    """Operators credit an account with tokens and gas."""
    target = session.get(User, user_id)
    if target is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=[{"loc": ["path", "user_id"], "msg": "no such account"}])
    return _fund(chain, target.address, body)
