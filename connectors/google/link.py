"""Connecting a Google account from chat (`/connect google`): core.calendar_chat's `CalendarLink` for Google.

The same link-and-paste consent as `pixie calendar connect google` (connectors/google/auth.py, PKCE):
what checks the answer (state, verifier) is sealed by the vault while it waits in `user.pending`; the
pasted address's code is exchanged at PIXIE_GOOGLE_TOKEN_URL, the calendars listed, and the account
stored with its tokens encrypted (connectors/google/sync.py `connect`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import async_sessionmaker

from core.calendar_chat import Linked
from core.vault import SecretKeyError, Vault

if TYPE_CHECKING:
    from connectors.google.auth import GoogleApp


class GoogleLink:
    """Google's consent from chat, storing what it gives like the command line does."""

    provider = "google"

    def __init__(self, sessions: async_sessionmaker, vault: Vault, app: GoogleApp) -> None:
        self.sessions, self.vault, self.app = sessions, vault, app

    def start(self) -> tuple[str, str]:
        """The consent link, and its state and PKCE verifier sealed (raises SourceFailed without a client)."""
        from connectors.google.auth import start_consent  # the Google libraries load only when used

        consent = start_consent(self.app)
        kept = json.dumps({"state": consent.state, "verifier": consent.verifier, "redirect_uri": consent.redirect_uri})
        return consent.url, self.vault.encrypt(kept).decode()

    async def finish(self, user_id: uuid.UUID, kept: str, pasted: str, now: dt.datetime) -> Linked:
        """Exchange the pasted address's code and store the account and its calendars."""
        from connectors.google.auth import Consent, code_from_redirect, exchange_code
        from connectors.google.sync import connect

        try:
            data = json.loads(self.vault.decrypt(kept.encode()))
        except SecretKeyError:
            raise ValueError("that link was made under another secret key") from None
        consent = Consent("", data["state"], data["verifier"], data["redirect_uri"])
        code = code_from_redirect(pasted, consent)
        grant = await asyncio.to_thread(exchange_code, self.app, consent, code)
        account, calendars = await connect(self.sessions, self.vault, self.app, user_id, grant, now)
        return Linked(account.id, account.remote_id, [(c.name, c.selected, c.is_default) for c in calendars])

    async def revoke(self, sealed: bytes) -> bool:
        """Tell Google to forget a disconnected account's grant; False when Google could not be reached."""
        from connectors.google.auth import Grant, revoke

        grant = Grant.from_secret(self.vault.decrypt(sealed))
        return await asyncio.to_thread(revoke, self.app, grant)
