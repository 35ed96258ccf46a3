"""Whose forwarded mail is it: each user's secret forwarding address, and the addresses they registered.

A user's forwarding address is the deployment mailbox's address with `+<token>` before the `@`
(`pixie+k3v9…@example.com`); the token is random, so only someone the user told can send there,
and rotating it makes the old address worthless. Mail that reaches the mailbox without a token
is only theirs when our own receiving server vouches (DMARC or aligned DKIM pass) for a sender
address the user registered here.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MailSender, User

TOKEN_BYTES = 10  # 80 bits: 16 base32 characters, unguessable and still short enough to read
_TOKEN = re.compile(r"^[a-z2-7]{16}$")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SenderTaken(ValueError):
    """The address is registered by another user."""


def new_token() -> str:
    """A fresh random token: lower case (mail servers may lower-case the local part), letters and 2-7."""
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().lower().rstrip("=")


def is_token(text: str) -> bool:
    """Whether `text` has the shape of a token (cheap check before a database look-up)."""
    return bool(_TOKEN.match(text))


def forwarding_address(mailbox: str, token: str) -> str:
    """`pixie@example.com` + token → `pixie+<token>@example.com`."""
    local, _, domain = mailbox.partition("@")
    return f"{local.split('+', 1)[0]}+{token}@{domain}"


async def token_of(session: AsyncSession, user_id: uuid.UUID) -> str:
    """The user's token, made on first use."""
    current = await session.scalar(select(User.mail_token).where(User.id == user_id))
    return current or await rotate(session, user_id)


async def rotate(session: AsyncSession, user_id: uuid.UUID) -> str:
    """Give the user a new token: mail to the old address is no longer theirs."""
    token = new_token()
    await session.execute(update(User).where(User.id == user_id).values(mail_token=token))
    return token


async def user_for_token(session: AsyncSession, token: str) -> uuid.UUID | None:
    """The user whose forwarding address carries `token`."""
    token = token.lower()
    if not is_token(token):
        return None
    return await session.scalar(select(User.id).where(User.mail_token == token))


def normalise_address(address: str) -> str | None:
    """A plain address in lower case, or None when `address` is not one."""
    address = address.strip().lower()
    return address if _ADDRESS.match(address) and len(address) <= 320 else None


async def register_sender(session: AsyncSession, user_id: uuid.UUID, address: str, now: dt.datetime) -> str:
    """Record `address` as the user's own; `SenderTaken` when another user registered it first."""
    clean = normalise_address(address)
    if clean is None:
        raise ValueError(f"{address!r} is not an email address")
    await session.execute(insert(MailSender).values(address=clean, user_id=user_id, created_at=now)
                          .on_conflict_do_nothing(index_elements=["address"]))
    owner = await session.scalar(select(MailSender.user_id).where(MailSender.address == clean))
    if owner != user_id:
        raise SenderTaken(f"{clean} is registered by another user")
    return clean


async def senders_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The addresses the user registered."""
    return list(await session.scalars(select(MailSender.address).where(MailSender.user_id == user_id)
                                      .order_by(MailSender.address)))


async def user_for_sender(session: AsyncSession, address: str) -> uuid.UUID | None:
    """The user who registered `address`."""
    clean = normalise_address(address)
    return await session.scalar(select(MailSender.user_id).where(MailSender.address == clean)) if clean else None
