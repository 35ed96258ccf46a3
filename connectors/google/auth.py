"""Google OAuth for a self-hosted Pixie: the app's client, a user's grant (sealed by the vault), credentials.

Google's device flow does not allow the Calendar scope, so connecting interactively is a link: the
user opens it, consents, and pastes back the address the browser ends on (a loopback address that
shows an error page, so no public URL is needed); its code is exchanged once, with PKCE. Headless
installs pass a refresh token directly (`pixie calendar connect google --refresh-token …`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Settings
from core.sources import AuthExpired, NotReady, SourceFailed

if TYPE_CHECKING:
    from google.oauth2.credentials import Credentials

SCOPES = ("https://www.googleapis.com/auth/calendar",)
AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
REDIRECT_URI = "http://127.0.0.1:8976/"  # a Desktop-app client accepts any loopback port; nothing listens there


@dataclass(frozen=True)
class GoogleApp:
    """The OAuth client and the endpoints Pixie talks to (settings: GOOGLE_CLIENT_ID, PIXIE_GOOGLE_*)."""

    client_id: str | None
    client_secret: str | None
    api_url: str
    token_url: str
    retries: int = 3  # the client's own retries of 429/5xx/network, with exponential backoff and jitter
    page_size: int = 2500  # Google's largest page: a first sync of 10,000 events is four requests

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleApp:
        """The app as configured."""
        return cls(settings.google_client_id, settings.google_client_secret, settings.google_api_url,
                   settings.google_token_url)

    def require_client(self) -> tuple[str, str]:
        """The client id and secret, or a SourceFailed that says which settings to set."""
        if not self.client_id or not self.client_secret:
            raise SourceFailed("GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set "
                               "(README: Connect Google Calendar)")
        return self.client_id, self.client_secret


@dataclass(frozen=True)
class Grant:
    """What a user's consent gave: the refresh token, and the latest access token while it lasts."""

    refresh_token: str
    token: str | None = None
    expiry: dt.datetime | None = None  # naive UTC, as google-auth keeps it

    def to_secret(self) -> str:
        """The grant as the accounts table stores it (encrypted by the vault)."""
        return json.dumps({"refresh_token": self.refresh_token, "token": self.token,
                           "expiry": self.expiry.isoformat() if self.expiry else None})

    @classmethod
    def from_secret(cls, secret: str) -> Grant:
        """A grant read back from the accounts table (a bare refresh token is accepted too)."""
        if not secret.startswith("{"):
            return cls(secret)
        data = json.loads(secret)
        expiry = dt.datetime.fromisoformat(data["expiry"]) if data.get("expiry") else None
        return cls(data["refresh_token"], data.get("token"), expiry)


def credentials(app: GoogleApp, grant: Grant) -> Credentials:
    """google-auth credentials that refresh at `app.token_url` when the access token is missing or old."""
    from google.oauth2.credentials import Credentials  # loads only when a calendar is used

    client_id, client_secret = app.require_client()
    return Credentials(token=grant.token, refresh_token=grant.refresh_token, client_id=client_id,
                       client_secret=client_secret, token_uri=app.token_url, scopes=list(SCOPES),
                       expiry=grant.expiry)


def grant_of(creds: Credentials, before: Grant) -> Grant:
    """The grant after the client used `creds` (a refresh changes the access token, rarely the refresh token)."""
    return Grant(creds.refresh_token or before.refresh_token, creds.token, creds.expiry)


# ---------------------------------------------------------------- connecting interactively

@dataclass(frozen=True)
class Consent:
    """One consent in progress: the link to open and what checks the address pasted back."""

    url: str
    state: str
    verifier: str
    redirect_uri: str = REDIRECT_URI


def start_consent(app: GoogleApp) -> Consent:
    """The link a user opens to let Pixie read and write their calendars (offline access, PKCE)."""
    client_id, _ = app.require_client()
    state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code",
             "scope": " ".join(SCOPES), "access_type": "offline", "prompt": "consent", "state": state,
             "code_challenge": challenge, "code_challenge_method": "S256"}
    return Consent(f"{AUTHORIZE_URL}?{urllib.parse.urlencode(query)}", state, verifier)


def code_from_redirect(pasted: str, consent: Consent) -> str:
    """The authorization code in the address the browser ended on (or the bare code); ValueError if not."""
    pasted = pasted.strip()
    if "://" not in pasted and "=" not in pasted:
        if not pasted:
            raise ValueError("nothing was pasted")
        return pasted
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(pasted).query or pasted)
    if "error" in query:
        raise ValueError(f"Google said: {query['error'][0]}")
    if query.get("state", [consent.state])[0] != consent.state:
        raise ValueError("that address belongs to another attempt; open the new link")
    if "code" not in query:
        raise ValueError("that address has no code= in it; paste the whole address from the browser")
    return query["code"][0]


def exchange_code(app: GoogleApp, consent: Consent, code: str, timeout: float = 30.0) -> Grant:
    """Trade the pasted code for a grant at the token endpoint (blocking: run it in a thread)."""
    client_id, client_secret = app.require_client()
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "client_secret": client_secret,
            "redirect_uri": consent.redirect_uri, "code_verifier": consent.verifier}
    request = urllib.request.Request(app.token_url, data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            error = (json.loads(e.read() or b"{}") or {}).get("error", str(e.code))
        if e.code >= 500:
            raise NotReady(f"token endpoint answered {e.code}") from None
        raise AuthExpired(f"the code was refused ({error}); start again") from None
    except OSError as e:
        raise NotReady(f"token endpoint unreachable: {type(e).__name__}") from None
    if not body.get("refresh_token"):
        raise SourceFailed("Google gave no refresh token; remove Pixie at myaccount.google.com/permissions "
                           "and connect again")
    expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=int(body.get("expires_in", 0)))
    return Grant(body["refresh_token"], body.get("access_token"), expiry if body.get("access_token") else None)


def revoke(app: GoogleApp, grant: Grant, timeout: float = 10.0) -> bool:
    """Tell Google to forget the grant (disconnecting); False when it could not be reached (blocking)."""
    url = app.token_url.rsplit("/", 1)[0] + "/revoke"
    data = urllib.parse.urlencode({"token": grant.refresh_token}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=timeout):
            return True
    except urllib.error.HTTPError as e:
        e.close()
        return e.code == 400  # already revoked or expired: forgotten either way
    except OSError:
        return False
