"""An email as Pixie reads it: its headers and the text a person would see, nothing hidden.

Only what is shown counts. From HTML, text styled out of sight is dropped (connectors.mail_html).
When a mail carries both text/plain and text/html, a mail client shows the HTML, so the plain
part is trusted only where it agrees with it: its lines that the HTML also shows are kept (they
have the better layout), a line the HTML does not show is dropped, and when little of the plain
part survives the HTML's visible text is read instead. An email forwarded as an attachment
(message/rfc822) is read as part of the one that carries it.

All text is normalised before anything reads it: NFKC, control, zero-width and bidi characters
removed. `instructs_ai` looks for a mail talking to an AI on a further folding (look-alike Greek
and Cyrillic letters read as Latin, punctuation as spaces), so "ΑI\u200b assistant:" is caught.

Bounds: at most MAX_BYTES of a mail are read, at most MAX_CONTAINERS multipart/message parts
(counted on the raw bytes before parsing, which recurses), an unknown or undecodable charset is
refused, and at most MAX_TEXT characters of text are read. Any failure is a BadEmail with a reason.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart

from connectors.mail_html import visible_text

MAX_BYTES = 10 * 1024 * 1024  # a mail larger than this is rejected unread
MAX_CONTAINERS = 60  # multipart/* and message/* parts; real mail has a handful
MAX_TEXT = 30_000  # characters of text read; what follows is cut (an ask sits near the top; reading is ~linear)
_MAX_HTML = 2_000_000  # characters of an HTML part given to the parser
MAX_PARTS = 300  # parts of any kind (Content-Type headers)
MAX_HEADER = 8 * 1024  # bytes of one header, unfolded: the stdlib's header parser is quadratic on longer ones
_CONTAINER = re.compile(rb"content-type:\s*(?:multipart|message)/", re.I)
_PART_HEADER = re.compile(rb"^content-type:", re.I | re.M)
_HEADER_START = re.compile(rb"[!-9;-~]+:")
_UNSEEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
                     r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]")
# Latin look-alikes among Greek and Cyrillic letters (Unicode confusables, the ones a Latin word hides in).
_LOOKALIKE = str.maketrans({
    **dict(zip("ΑΒΕΗΙΚΜΝΟΡΤΥΧΖαβεικνοτυχρηµμωγ", "ABEHIKMNOPTYXZaBeiKvotuxpnuuwy", strict=True)),  # Greek
    **dict(zip("АВЕЅІЈКМНОРСТУХаеіјорсухԁһԛԝѕӏтмнкпгвьд", "ABESIJKMHOPCTYXaeijopcyxdhqwsltmhknrbbd",
               strict=True)),  # Cyrillic
    **dict(zip("ıſℓ", "isl", strict=True))})
_AI_TALK = re.compile(
    r"\b(?:ignore|disregard|forget|override) (?:all |any )?(?:of )?(?:the |my |your |these |those )?"
    r"(?:previous|prior|above|earlier|other|preceding|system|original) "
    r"(?:instructions?|messages?|rules|prompts?|directions)"
    r"|\bsystem (?:note|prompt|message|instruction|override|notice)s?\b"
    r"|\bnotes? (?:for|to) (?:the )?(?:ai|assistants?|bots?|llms?|agents?)\b"
    r"|\b(?:ai|a i) (?:assistant|agent|model|system|secretary)s?\b"
    r"|\b(?:dear|attention|hey|hi) (?:ai|assistant|bot|llm|agent)\b"
    r"|\bassistant\s*:|\bllms?\b|\blanguage models?\b|\bprompt injection\b|\bnew instructions\b|\byou are now\b"
    r"|\bdeveloper mode\b|\bjailbreak|\bpre ?authori[sz]ed\b|\b(?:admin|administrator) override\b"
    r"|\bdo not (?:mention|tell|reveal|inform|notify|show)\b.{0,40}\b(?:user|owner|anyone)\b"
    r"|\b(?:delete|remove|erase|cancel|mark|complete) (?:all|every)\b.{0,30}"
    r"\b(?:tasks?|events?|emails?|mails?|reminders?)\b"
    r"|\bforward (?:all|every)\b.{0,30}\b(?:emails?|mails?|messages?)\b"
    # words addressed to whatever machine reads the mail: "to the assistant reading this inbox",
    # "instructions for the virtual secretary", "if you are an AI", "as the user's AI"
    r"|\b(?:to|for|dear|hey|hi|hello|attention|attn) (?:the |any |an? |this |my |your |our )?(?:user s |owner s )?"
    r"(?:virtual|digital|automated|ai|email|inbox|mail) (?:assistant|secretary|agent|bot|system|helper)s?\b"
    r"|\b(?:assistant|secretary|agent|bot|model|system)s? (?:that |who |which )?(?:is |are )?"
    r"(?:reading|processing|handling|managing|parsing|scanning|monitoring|triaging|reads|processes|handles|manages"
    r"|parses|scans|monitors) (?:this|these|the|my|your|incoming|all|every)\b"
    r"|\bif you are (?:an? )?(?:ai|assistant|bot|language model|automated|machine)"
    r"|\bas (?:the user s|the owner s|an|a|their|your) (?:ai|bot|agent)\b"
    # the same in the languages mail most often arrives in besides English
    r"|\b(?:ignorez|ignoriere|ignorieren sie|ignora|negeer)\b.{0,30}"
    r"\b(?:instructions|anweisungen|instrucciones|istruzioni|instrucoes|instructies)\b"
    r"|\b(?:assistant ia|assistante ia|ki assistent\w*|asistente (?:de )?ia|assistente (?:di )?ia|ai assistent)\b",
    re.I)
_SPACED = re.compile(r"\b(?:\w ){3,}\w\b")  # "i g n o r e"
_LEET = str.maketrans("0134578@$", "oieastbas")


class BadEmail(ValueError):
    """Not an email Pixie can read (no headers, no text, too large or too deep, an unknown charset)."""


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str  # the address
    sender_name: str
    subject: str
    sent_at: dt.datetime | None  # aware; None when the Date header is missing, broken or out of range
    text: str  # what a reader sees, forwarded attachments included, normalised
    bulk: bool  # a mailing list or newsletter (List-Unsubscribe, Precedence: bulk/list)


def normalise(text: str) -> str:
    """NFKC, with control, zero-width and bidi characters removed, and line ends as \\n."""
    return _UNSEEN.sub("", unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n")))


def fold(text: str) -> str:
    """`text` as the injection check reads it: normalised, accents and look-alikes as Latin, lower case,
    every run of non-letters one space."""
    text = unicodedata.normalize("NFKD", normalise(text).translate(_LOOKALIKE))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_LOOKALIKE).lower()
    return re.sub(r"[^\w:]+|_", " ", text)


def instructs_ai(text: str) -> str | None:
    """The words with which `text` talks to an AI ("AI assistant: …", "system note", "ignore previous
    instructions", "delete all tasks"), or None."""
    folded = fold(text)
    m = _AI_TALK.search(folded)
    if m is None:  # obfuscated: letters spaced out, digits for letters inside words ("1gn0re prev1ous")
        bare = _SPACED.sub(lambda s: s.group(0).replace(" ", ""), folded)
        bare = re.sub(r"\w*[a-z]\w*", lambda w: w.group(0).translate(_LEET), bare)
        m = _AI_TALK.search(bare)
    return m.group(0).strip() if m else None


def visible_html(html: str) -> str:
    """The text of an HTML body its reader sees."""
    return visible_text(html[:_MAX_HTML])


def _skeleton(text: str) -> str:
    text = re.sub(r"<?https?://\S+>?|<[^<>\s@]{1,200}@[^<>\s]{1,200}>", " ", text)
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def agreed_text(plain: str, html_visible: str) -> str:
    """The plain part as far as the HTML shows it too; the HTML's visible text when little of it agrees."""
    lines = plain[:MAX_TEXT].split("\n")
    if sum(1 for line in lines if line.strip()) > 2000:  # too many to compare in bounded time
        return html_visible
    seen = " " + _skeleton(html_visible[:MAX_TEXT]) + " "
    kept, lost = [], 0
    for line in lines:
        words = _skeleton(line.lstrip("> "))
        if not words or f" {words} " in seen:
            kept.append(line)
        else:
            lost += len(words.split())
    total = len(_skeleton(plain).split()) or 1
    return "\n".join(kept) if lost <= 0.25 * total else html_visible


def _content(part: MIMEPart) -> str:
    content = part.get_content()
    if isinstance(content, bytes):  # a text part with a transfer encoding it does not know
        content = content.decode("utf-8", "replace")
    return str(content)


def _body(msg: EmailMessage, depth: int = 0) -> str:
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        seen = visible_html(_content(html))
        text = agreed_text(normalise(_content(plain)), seen) if plain is not None else seen
    else:
        text = _content(plain) if plain is not None else ""
    for att in msg.iter_attachments():  # a forwarded original travels as message/rfc822
        if att.get_content_type() == "message/rfc822" and depth < 5:
            inner = att.get_content()
            if isinstance(inner, EmailMessage):
                text += "\n\n---------- Forwarded message ----------\n" + _headers(inner) + _body(inner, depth + 1)
    return text


def _headers(msg: EmailMessage) -> str:
    return "".join(f"{h}: {msg[h]}\n" for h in ("From", "Date", "Subject") if msg[h]) + "\n"


def _date(value: object) -> dt.datetime | None:
    try:
        sent = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if sent.tzinfo is None:  # RFC 5322 "-0000": the zone is unknown, the time is UTC
        sent = sent.replace(tzinfo=dt.UTC)
    return sent if 1970 <= sent.year <= 2200 else None  # what the rest of Pixie can work with


def _header(msg: EmailMessage, name: str) -> str:
    try:
        return normalise(str(msg[name] or "")).strip()
    except Exception:  # noqa: BLE001 — a header the email package cannot decode is as good as absent
        return ""


def _longest_header(raw: bytes) -> int:
    """The longest header (continuation lines included) anywhere in the message, parts' headers too."""
    longest = current = 0
    for line in raw.split(b"\n"):
        if current and line[:1] in (b" ", b"\t"):
            current += len(line)
        else:
            current = len(line) if _HEADER_START.match(line) else 0
        longest = max(longest, current)
    return longest


def parse_email(raw: bytes) -> Mail:
    """Read an RFC 5322 message; BadEmail (with the reason) when it cannot or should not be read."""
    if len(raw) > MAX_BYTES:
        raise BadEmail(f"it is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if len(_CONTAINER.findall(raw)) > MAX_CONTAINERS:
        raise BadEmail(f"it nests more than {MAX_CONTAINERS} parts")
    if len(_PART_HEADER.findall(raw)) > MAX_PARTS or _longest_header(raw) > MAX_HEADER:
        raise BadEmail(f"its headers are too many or too long (over {MAX_PARTS} parts or {MAX_HEADER} bytes)")
    try:
        return _parse(raw)
    except BadEmail:
        raise
    except (LookupError, UnicodeError) as e:  # an unknown charset or a broken part
        raise BadEmail(f"its text cannot be read: {e}") from e
    except Exception as e:  # noqa: BLE001 — malformed mail must never crash a batch or the poller
        raise BadEmail(f"it is malformed ({type(e).__name__})") from e


def _parse(raw: bytes) -> Mail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not (msg["From"] or msg["Message-ID"]):
        raise BadEmail("this is not an email: it has no From or Message-ID header")
    name, address = email.utils.parseaddr(_header(msg, "From"))
    text = normalise(_body(msg))[:MAX_TEXT]
    if not text.strip():
        raise BadEmail("it has no text to read")
    bulk = bool(msg["List-Unsubscribe"]) or _header(msg, "Precedence").lower() in ("bulk", "list", "junk")
    message_id = _header(msg, "Message-ID")[:200] or f"<sha256:{hashlib.sha256(raw).hexdigest()[:40]}>"
    return Mail(message_id, address.lower(), name, _header(msg, "Subject")[:500], _date(msg["Date"]) if msg["Date"]
                else None, text, bulk)
