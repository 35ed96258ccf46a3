"""Long-term memory: items with text and a vector, searched by meaning and by words, strictly per user.

How a search stays complete and fast (see ../shared/RELIABILITY.md on filtered HNSW):
- a user with up to EXACT_LIMIT vectors gets an exact scan of their own rows (index on user_id):
  always complete, a few ms;
- a bigger user goes through the HNSW index, and if the index returns fewer candidates than
  the user has rows to offer, the search is redone exactly.
Vector and full-text candidates are fused by reciprocal rank; kind and recency break ties.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pgvector import Vector
from sqlalchemy import delete, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.embeddings import Embedder, parse_vector, text_hash
from db.models import EmbeddingCache, MemoryItem, User, utcnow

log = logging.getLogger(__name__)

KINDS = ("note", "task", "event", "message")
# Explicit notes and what tasks and events say outrank a passing remark that matches as well.
KIND_WEIGHT = {"note": 1.0, "task": 1.0, "event": 1.0, "message": 0.8}
RRF_K = 60
# A word-leg hit adds its reciprocal rank times (PART_FLOOR + the rest × the share of the best match's
# word weight it has): a row saying half of what the best one says counts 3/4, so a note that shares one
# vague word with the question but is close in vector does not outrank the note with the name asked about
# and the kind of value asked for.
PART_FLOOR = 0.5
CANDIDATES = 50  # per leg (vector, words) before fusion
ANN_CANDIDATES = 20  # per leg for a big user (HNSW): a beam of EF_SEARCH yields these at the index's own cost
EXACT_LIMIT = 20_000  # up to this many vectors a user's exact scan is quick (≈7 ms) and always complete
EF_SEARCH = 40  # HNSW beam for big users (pgvector's default; set only where the server has less)
CLEAN_TTL = 30.0  # seconds "nothing of this user's waits for a vector" is trusted
SIZE_TTL = 600.0  # seconds a user's vector count is trusted (it only picks exact scan or HNSW, and weighs words)
CATCH_UP_BATCH = 64
CATCH_UP_BUDGET = 2.0  # seconds a search may spend embedding the user's backlog first
FORGET_LIMIT = 25
COMMON = 0.02  # a word in more than 2% of all memories does not decide a full-text match on its own
# Memories per user, on average, from which a generic plan of the HNSW statement stays on the index
# (below ~30 Postgres could cost the per-user scan cheaper for a generic "average" user).
GENERIC_ANN_AVERAGE = 200
WORD_BUDGET = CANDIDATES  # rows the deciding words may be expected to match: about as many as a leg keeps
MAX_TERMS = 12  # query words weighed in the full-text leg
MAX_DECIDERS = 3  # of which the rarest few decide which rows match at all (the rest only add weight)
MAX_TEXT_QUERY = 2000
FREQ_TTL = 3600.0
# Words that name what kind of value is asked for ("Sven's email address", "flight number"), not what it is
# about: they weigh less than the topic words they qualify, and decide a match only after those.
GENERIC = frozenset("""number numbers no address addresses email emails mail name names date dates day days code codes
time times phone mobile contact details detail info id ref reference link url website site""".split())
GENERIC_WEIGHT = 0.5  # of a word's own weight; also what a related word or a value of the asked kind adds
# Words about one everyday thing, any of which a note may use for it ("charging" for Orion → "pricing"),
# the one table of related words every brain's search uses. A line is a group whose words all bring each
# other; "a b > c d" says a or b also brings c and d, but not back ("sick" → "vet", never "vet" → "sick").
# A related word weighs GENERIC_WEIGHT and decides a match after the query's own words.
_RELATED_LINES = (
    "price prices pricing priced cost costs costing charge charges charging charged fee fees rate rates pay pays "
    "paying paid payment spend spent budget",
    "doctor doctors dr gp physician pediatrician paediatrician",
    "children child kids kid",
    "home house flat apartment",
    "car cars vehicle",
    "password passwords code codes pin passcode",
    "wifi wi-fi wireless > password network",
    "combination combo > code lock",
    "birthday birthdays bday born",
    "anniversary > married wedding",
    "sick ill unwell > doctor vet dr",
    "vet > animal",
    "reception > front desk",
    "phone number mobile",
    "ring > call calls phone",
    "allergy allergies allergic",
    "restrictions > eat allergic diet",
    "food > eat diet allergic vegetarian vegan",
    "key > keys spare",
    "park parking parked > level spot",
    "car > parked",
    "hide hid hidden > under",
    "address > lives street",
    "live lives > address",
    "dentist > dr",
    "work office",
    "schedule calendar diary",
    "looks > manages handles",
    "id identity > passport licence license card",
    "expire expires expired expiry expiring renew renews renewal renewed",
    "lease tenancy rental",
    "rubbish trash garbage bin bins waste recycling > collection",
    "plate numberplate reg registration",
    "medication medicine medicines meds tablet tablets pills prescription",
    # abbreviations of what a note may spell out
    "ni > national insurance", "ssn > social security", "dob > birth birthday born", "no > number",
    # British and American words for one thing
    "colour color", "favourite favorite", "licence license", "postcode zip", "neighbour neighbor",
    "organisation organization", "centre center", "programme program", "holiday vacation", "mobile cell cellphone",
    "mum mom", "nappies diapers", "trainers sneakers", "grey gray", "jewellery jewelry", "flat apartment",
)


def _related_table(lines: Sequence[str]) -> dict[str, frozenset[str]]:
    """Each word → the words it brings (see _RELATED_LINES)."""
    table: dict[str, set[str]] = {}
    for line in lines:
        cue, _, brought = line.partition(">")
        group = cue.split()
        for w in group:
            table.setdefault(w, set()).update(group, brought.split())
    return {w: frozenset(ws - {w}) for w, ws in table.items()}


RELATED = _related_table(_RELATED_LINES)
# What a value of the asked kind looks like in a note, for the words that ask for it: a note holding
# "sven.larsen@nordlicht.example" says Sven's email even though no word of it is "email".
_MONEY = r"[£$€¥]\s*\d|\d\s*(k|m)?\s*(euros?|eur|dollars?|usd|pounds?|gbp|quid|bucks|francs?|chf)\M|\d\s*[£$€]"
_DATE = (r"\m(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|\d(st|nd|rd|th)?\s+(of\s+)?"
         r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)|\m\d{1,2}[./]\d{1,2}([./]\d{2,4})?\M"
         r"|\m(mon|tues|wednes|thurs|fri|satur|sun)day")
SHAPES = {
    **dict.fromkeys(("email", "emails", "mail", "e-mail"), r"@[\w-]+\.[a-z]"),
    **dict.fromkeys(("link", "url", "website", "site", "web"),
                    r"https?://|\mwww\.|\m[\w-]+\.(com|org|net|io|de|eu|co|app|dev)\M"),
    **dict.fromkeys(("number", "numbers", "phone", "mobile", "code", "pin", "id", "ref", "reference"), r"\d"),
    **dict.fromkeys(("much", "price", "pricing", "cost", "costs", "charge", "charging", "charged", "fee", "fees",
                     "pay", "paid", "paying", "rent", "salary", "budget", "spend", "spent"), _MONEY),
    **dict.fromkeys(("date", "dates", "day", "birthday", "bday", "anniversary"), _DATE),
}
# Below this cosine similarity a vector-only candidate is noise, not a memory (per embedder family).
MIN_SIMILARITY = {"hash": 0.12, "all-MiniLM": 0.2}

WORD = re.compile(r"[^\W_]+")
# Words that carry no fact: kept out of duplicate checks and the words a search or forget must match.
STOP = frozenset("""a an the and or but if of to in on at by for with from into about as is are was were be been
being am do does did doing have has had having i me my mine we us our you your he him his she her it its they them
their this that these those there here what which who whom whose when where why how not no so too very can could
would should will shall may might must just also please pls remember note that's what's s t don didn again ever
tell know any some all""".split())
# Replies that carry nothing to remember on their own ("yes", "the first one", "ok thanks!").
CHATTER = frozenset("""yes yeah yep yup no nope nah ok okay k sure fine great cool nice thank thanks thx ty cheer
bye hi hello hey morning evening night good first second third fourth fifth last one two three four five lol haha
right correct wrong perfect awesome done got it""".split())


@dataclass(frozen=True)
class Hit:
    """One memory found by a search."""

    id: str
    kind: str
    text: str
    score: float
    created_at: dt.datetime

    def as_dict(self, tz: ZoneInfo | None = None) -> dict[str, object]:
        """The hit as the search_memory tool returns it (created_at in the user's zone when given)."""
        at = self.created_at.astimezone(tz) if tz else self.created_at
        return {"id": self.id, "kind": self.kind, "text": self.text, "score": round(self.score, 4),
                "created_at": at.isoformat()}


# ---------------------------------------------------------------- pure helpers

def words(text_: str) -> list[str]:
    """Lower-case word tokens (letters and digits of any script)."""
    return WORD.findall(text_.lower())


def _stem(word: str) -> str:
    word = re.sub(r"^(\d+)(st|nd|rd|th)$", r"\1", word)  # "3rd" and "3" are the same day
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_words(text_: str) -> set[str]:
    """The stems of the words that carry the content of a text."""
    return {_stem(w) for w in words(text_) if w not in STOP}


def or_query(text_: str) -> str:
    """A tsquery matching any content word (Postgres drops its own stop words and stems the rest)."""
    return " | ".join(dict.fromkeys(w for w in words(text_) if w not in STOP))


def near_duplicate(a: str, b: str) -> bool:
    """Whether two notes say the same thing: same numbers, and nearly the same content words."""
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return " ".join(words(a)) == " ".join(words(b))
    digits = re.compile(r"\d")
    if {w for w in wa if digits.search(w)} != {w for w in wb if digits.search(w)}:
        return False  # "moved to April 14" is news after "moved to April 21"
    return len(wa & wb) / len(wa | wb) >= 0.75


def remembers_turn(text_: str, tools: Iterable[tuple[str, bool]]) -> bool:
    """Whether a conversation turn becomes a "message" memory item.

    Not when it already lives on as a note, task or event (those follow their source), not when
    it asked Pixie to forget (remembering that would undo it), and not when it says nothing
    ("thanks!", "ok 👍").
    """
    for name, ok in tools:
        if name == "forget" or (ok and name in ("remember", "create_task", "create_event")):
            return False
    return bool(content_words(text_) - CHATTER)


# A word in a question → the words a note uses for that one person ("the kids" are several: not here).
_RELATIONS = {
    "son": ("son",), "daughter": ("daughter",), "wife": ("wife",), "husband": ("husband",),
    "partner": ("partner", "wife", "husband"), "spouse": ("wife", "husband"), "mom": ("mother", "mom", "mum"),
    "mum": ("mother", "mom", "mum"), "mother": ("mother", "mom", "mum"), "dad": ("father", "dad"),
    "father": ("father", "dad"), "sister": ("sister",), "brother": ("brother",), "boss": ("boss", "manager"),
    "manager": ("manager", "boss"), "mother-in-law": ("mother-in-law",), "father-in-law": ("father-in-law",),
    "brother-in-law": ("brother-in-law",), "sister-in-law": ("sister-in-law",), "girlfriend": ("girlfriend",),
    "boyfriend": ("boyfriend",), "grandma": ("grandma", "grandmother"), "grandpa": ("grandpa", "grandfather"),
}
_REL_IN_QUERY = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _RELATIONS), key=len, reverse=True))
                           + r")\b", re.I)
_NAME = r"([A-Z][\w\-]+)"


def relations_asked(query: str) -> dict[str | None, set[str]]:
    """The people a question names by relation, by whose relation they are (None: the user's own):
    "my son" → {None: {son}}, "Kofi's wife" → {"Kofi": {wife}}; each with the words notes use for it."""
    found: dict[str | None, set[str]] = {}
    for m in _REL_IN_QUERY.finditer(query):
        owner = re.search(r"([^\W\d_][\w-]*)['’]s?\s+$", query[:m.start()])
        key = None if owner is None or owner.group(1).lower() in ("my", "our") else owner.group(1)
        found.setdefault(key, set()).update(_RELATIONS[m.group(1).lower()])
    return found


def relation_words(query: str) -> set[str]:
    """The words notes use for the people a question names by relation ("my son", "son" → son)."""
    return relations_asked(query).get(None, set())  # "Priya's son" is not the user's son


def relation_names(rels: set[str], notes: Iterable[str], owner: str | None = None) -> list[str]:
    """Names the user's notes give those people: "my son Felix…", "my boss is Gerald", "Hannah (my wife)",
    "Renate is my …"; with an owner, that person's: "Kofi's wife is called Adjoa", "Adjoa, Kofi's wife"."""
    if not rels:
        return []
    alt = "|".join(sorted(map(re.escape, rels), key=len, reverse=True))
    whose = r"(?:my|our)" if owner is None else rf"{re.escape(owner)}['’]s"
    patterns = (re.compile(rf"\b{whose}\s+(?:{alt})(?:'s)?\s+{_NAME}", re.I),
                re.compile(rf"\b{whose}\s+(?:{alt})\s+is\s+(?:called\s+|named\s+)?{_NAME}", re.I),
                re.compile(rf"{_NAME}\s*\({whose}\s+(?:{alt})\)", re.I),
                re.compile(rf"{_NAME},?\s+(?:is\s+)?{whose}\s+(?:{alt})\b", re.I))
    names: dict[str, None] = {}
    for note in notes:
        for pattern in patterns:
            for m in pattern.finditer(note):
                name = m.group(1)
                if name[0].isupper() and name.lower() not in STOP and name != owner:
                    names[name] = None
    return list(names)[:3]


def candidate_lexemes(query: str, table: dict[str, float], memo: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """The listed lexemes that Postgres' English stemming can make of the query's words.

    A stem is a prefix of its word, or one whose last letter became "i" ("cities" → "citi"): only
    those entries of the frequency table are sent with a search, not all of them. `memo` keeps
    each word's answer for the same table.
    """
    found: dict[str, None] = {}
    for w in set(words(query)):
        lexemes = memo.get(w) if memo is not None else None
        if lexemes is None:
            lexemes = tuple(lex for end in range(1, len(w) + 1) for lex in (w[:end], w[:end - 1] + "i")
                            if lex in table)
            if memo is not None and len(memo) < 50_000:
                memo[w] = lexemes
        found.update(dict.fromkeys(lexemes))
    return list(found)


def related_words(query: str) -> str:
    """Words related to the query's everyday words that the query does not say itself (see RELATED)."""
    asked = set(words(query))
    return " ".join(sorted({r for w in asked for r in RELATED.get(w, ())} - asked))


def value_shapes(query: str) -> list[str]:
    """Patterns (Postgres regular expressions) of the kinds of value the query asks for (see SHAPES)."""
    return list(dict.fromkeys(SHAPES[w] for w in words(query) if w in SHAPES))


def min_similarity(model: str) -> float:
    """The similarity floor for vector-only candidates of an embedder (0: none known)."""
    return next((v for prefix, v in MIN_SIMILARITY.items() if model.startswith(prefix)), 0.0)


# ---------------------------------------------------------------- SQL

_PENDING = """
    (SELECT id, text FROM memory_items WHERE user_id = :uid AND embedding_model IS NULL LIMIT :n)
    UNION ALL (SELECT id, text FROM memory_items WHERE user_id = :uid AND embedding_model < :current LIMIT :n)
    UNION ALL (SELECT id, text FROM memory_items WHERE user_id = :uid AND embedding_model > :current LIMIT :n)
    LIMIT :n"""  # three index range scans on (user_id, embedding_model): cheap even for 100k rows
# How many vectors of the current model the user has, counted up to one past EXACT_LIMIT (index only).
_SIZE = f"""(SELECT count(*) FROM (SELECT 1 FROM memory_items WHERE user_id = :uid AND embedding_model = :current
    LIMIT {EXACT_LIMIT + 1}) s)"""


# Words Postgres' statistics know, as a quoted tsquery lexeme (already stemmed: no normalising again).
_QUOTED = "replace(replace(lex, '\\', ''), '''', '''''') || ''''"
_LEXEME = f"CAST('''' || {_QUOTED} AS tsquery)"
# The same lexeme as the user_tsv column holds it: the owner's prefix, made as pixie_user_tsv makes it
# (migration 0007), then the lexeme.
_USER_LEXEME = f"CAST('''' || left(CAST(CAST(:uid AS uuid) AS text), 8) || {_QUOTED} AS tsquery)"
# The GENERIC words as Postgres stems them (a constant: folded when the statement is planned).
_GENERIC = "tsvector_to_array(to_tsvector('english', '" + " ".join(sorted(GENERIC)) + "'))"
ENGLISH: Any = literal_column("'english'")  # the text search configuration of the tsv column
# The weight of a hit's kind, as SQL over {kind}.
_KIND_WEIGHT = ("CASE {kind} " + " ".join(f"WHEN '{k}' THEN {w}" for k, w in KIND_WEIGHT.items())
                + f" ELSE {min(KIND_WEIGHT.values())} END")


def says(user_id: uuid.UUID, tsquery: Any) -> Any:
    """The condition "this user's item says `tsquery`", served by the user-scoped full-text index."""
    return MemoryItem.user_tsv.op("@@")(func.pixie_user_tsquery(user_id, tsquery))


def _words_sql(size: str) -> str:
    """CTEs q (the query's weighted lexemes) and tq (the tsquery that decides whether a row matches at all).

    Words: the query's lexemes (Postgres' English stemming) each weigh their inverse frequency,
    taken from Postgres' own statistics of the tsv column (passed in as :clex/:cfreq); a GENERIC
    word and a word related to the query's (:related, see RELATED) weigh GENERIC_WEIGHT of that.
    A row must contain one of the query's MAX_DECIDERS rarest words — topic words before generic
    ones, so equally rare words do not decide by the alphabet — or a related word; the others only
    add weight. A word in
    more than :common of all memories says too little to decide a match on its own, and the
    deciders together may be expected in at most :budget of the user's `size` memories (rows:
    scoring every match is what makes full text slow on big memories). When even the rarest word
    is too frequent, a row must contain all of the rarest words instead. A user whose memories all
    fit in the budget has any of the rarest words decide.
    """
    # A user with no more memories than the budget can have every one of them scored: then any of
    # the rarest words decides, however common it is among everyone's memories (the table-wide
    # statistics must not make one user's only note unfindable because others use its words).
    decides = f"({size} <= :budget OR (f <= :common AND cum * {size} <= :budget))"
    return f"""
    q AS (SELECT lq, mq, w, f, own, row_number() OVER (ORDER BY NOT own, generic, f, lex) AS rk,
                 sum(f) OVER (ORDER BY NOT own, generic, f, lex) AS cum FROM (
          SELECT l.lex, {_LEXEME} AS lq, {_USER_LEXEME} AS mq, l.own, l.generic, coalesce(c.freq, :floor) AS f,
                 -ln(greatest(coalesce(c.freq, :floor), 1e-6))
                     * CASE WHEN l.own AND NOT l.generic THEN 1 ELSE {GENERIC_WEIGHT} END AS w
          FROM (SELECT lex, own, lex = ANY({_GENERIC}) AS generic FROM (
                  (SELECT lex, true AS own FROM unnest(tsvector_to_array(to_tsvector('english', :query))) lex
                   LIMIT {MAX_TERMS})
                  UNION ALL
                  (SELECT lex, false FROM unnest(tsvector_to_array(to_tsvector('english', :related))) lex
                   WHERE lex <> ALL(tsvector_to_array(to_tsvector('english', :query))) LIMIT {MAX_TERMS})) a) l
          LEFT JOIN unnest(CAST(:clex AS text[]), CAST(:cfreq AS float8[])) AS c(elem, freq) ON c.elem = l.lex) x),
    tq AS (SELECT CAST(CASE WHEN bool_or({decides}) FILTER (WHERE own)
                            THEN string_agg(mq::text, ' | ') FILTER (WHERE {decides})
                            ELSE string_agg(mq::text, ' & ') FILTER (WHERE own) END AS tsquery) AS m
           FROM q WHERE rk <= {MAX_DECIDERS} OR NOT own HAVING count(*) FILTER (WHERE own) > 0)"""


@functools.lru_cache(maxsize=64)
def _search_sql(exact: bool, dim: int, with_words: bool, meta: bool, limits: tuple[int, int] | None,
                every_kind: bool = True, shapes: bool = False) -> str:
    """The whole hybrid search as one statement (one round trip).

    Vector leg — exact (a user with up to EXACT_LIMIT vectors): a scan of the user's own rows
    (index on user_id); approximate (a big user): the HNSW index. Word leg: the user-scoped GIN
    index, where only rare words decide a match, so few rows are read and scored. Kind weighs in,
    recency breaks ties; a vector-only candidate below :minsim is noise, not a memory.
    `limits` (n candidates per leg, k hits) go in as literals, so a generic plan is costed like a
    custom one and Postgres can keep it instead of planning the statement for every search; None
    leaves them as parameters :n and :k.
    The ranks are fused in the statement (reciprocal rank fusion; kind weighs in, recency breaks
    ties; a vector-only candidate below :minsim is noise, not a memory), so only the k hits come
    back: (id, kind, text, created_at, score, vector candidates — counted only for the approximate
    index, whose count can fall short). With `meta`, one more row (id
    NULL) says how many vectors the user has (up to EXACT_LIMIT + 1) and whether any item waits for
    a vector of the current model: no extra round trip for either.
    """
    words_ctes = _words_sql(_SIZE if meta else "CAST(:size AS float8)") + "," if with_words else ""
    n, k = limits or (":n", ":k")
    # Every item is of one of the KINDS: a search of all of them needs no per-row check of the kind.
    of_kind, mi_of_kind = ("", "") if every_kind else (" AND kind = ANY(:kinds)", " AND mi.kind = ANY(:kinds)")
    if exact:
        # The plain column (not the index expression) can only be served by the per-user scan: exact.
        distance, ann = "embedding <=> CAST(:qv AS vector)", ""
    else:
        distance = f"(embedding::vector({dim})) <=> CAST(:qv AS vector({dim}))"
        ann = f" AND embedding_dim = {dim}"  # a literal, so the planner can use the partial HNSW index
    vec = f"""
    vec AS (SELECT id, kind, text, created_at, row_number() OVER (ORDER BY d, created_at DESC) AS r, 1 - d AS sim FROM (
        SELECT id, kind, text, created_at, {distance} AS d FROM memory_items
        WHERE user_id = :uid AND embedding_model = :model{of_kind}{ann}
        ORDER BY d LIMIT {n}) v)"""
    # A value of the kind asked for ("email" → an address in the note) adds :shape_w per kind found; only
    # the leg's candidates are looked at (a pattern on every matching row is what would cost).
    shape = (" + :shape_w * (SELECT count(*) FROM unnest(CAST(:shapes AS text[])) p WHERE t.text ~* p)"
             if shapes else "")
    if with_words:
        txt = f""",
    txt AS (SELECT id, kind, text, created_at, row_number() OVER (ORDER BY s DESC, created_at DESC) AS r,
                   s / nullif(max(s) OVER (), 0) AS part FROM (
        SELECT t.id, t.kind, t.text, t.created_at, t.s{shape} AS s FROM (
            SELECT mi.id, mi.kind, mi.text, mi.created_at, (SELECT sum(q.w) FROM q WHERE mi.tsv @@ q.lq) AS s
            FROM tq JOIN memory_items mi ON mi.user_tsv @@ tq.m
            WHERE mi.user_id = :uid{mi_of_kind}
            ORDER BY s DESC, mi.created_at DESC LIMIT {n}) t) u)"""
    else:
        txt = (",\n    txt AS (SELECT NULL::uuid AS id, NULL::text AS kind, NULL::text AS text, "
               "NULL::timestamptz AS created_at, 0::bigint AS r, 0::float8 AS part WHERE false)")
    # Both legs already read each candidate's row: carry kind, text and time along, no second fetch.
    found = f"""(SELECT coalesce(vec.id, txt.id) AS id, coalesce(vec.kind, txt.kind) AS kind,
           coalesce(vec.text, txt.text), coalesce(vec.created_at, txt.created_at) AS at,
           (coalesce(1.0 / ({RRF_K} + vec.r), 0)
            + coalesce(({PART_FLOOR} + {1 - PART_FLOOR} * txt.part) / ({RRF_K} + txt.r), 0))
               * {_KIND_WEIGHT.format(kind="coalesce(vec.kind, txt.kind)")} AS score,
           {"0" if exact else "(SELECT count(*) FROM vec)"} AS candidates
    FROM vec FULL JOIN txt ON txt.id = vec.id WHERE txt.r IS NOT NULL OR vec.sim >= :minsim
    ORDER BY score DESC, at DESC LIMIT {k})"""
    if meta:
        found += f"""
    UNION ALL SELECT NULL, NULL, NULL, NULL, {_SIZE}, CAST(EXISTS ({_PENDING.replace(":n", "1")}) AS int)"""
    return f"WITH {words_ctes}{vec}{txt}\n    {found}"


@functools.lru_cache(maxsize=64)
def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """A statement with :name parameters in asyncpg's form ($1, $2, …), and the names in order."""
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return re.sub(r"(?<![:\w]):(\w+)", number, sql), tuple(names)


async def _fetch(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run a read on the session's own asyncpg connection (same transaction; no ORM layer on the hot path).

    The connection is looked up once per transaction (a transaction keeps its connection).
    """
    tx = session.sync_session.get_transaction()
    known = session.info.get("pixie_driver")
    if tx is not None and known is not None and known[0] is tx:
        driver = known[1]
    else:
        conn = await session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        session.info["pixie_driver"] = (session.sync_session.get_transaction(), driver)
    statement, names = _positional(sql)
    return list(await driver.fetch(statement, *(params[n] for n in names)))


@dataclass(frozen=True)
class _Stats:
    words: dict[str, float]  # lexeme → share of all memories (the frequent ones)
    floor: float  # the share assumed for a word Postgres did not list
    total: float  # memories in all (estimate)
    users: int
    stems: dict[str, tuple[str, ...]] = field(default_factory=dict)  # word → its lexemes in `words`


class Memory:
    """Reads and writes memory items for one user at a time."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        # user → (vectors of the current model, monotonic time until which that count holds, until which
        # nothing of theirs waits for a vector)
        self._state: dict[uuid.UUID, tuple[int, float, float]] = {}
        self._ann_dims: set[int] | None = None
        self._freq: tuple[_Stats, float] | None = None
        self._ef_default: int | None = None  # the server's hnsw.ef_search

    # ------------------------------------------------------------ writing

    async def add(self, session: AsyncSession, user_id: uuid.UUID, kind: str, text_: str,
                  source_id: uuid.UUID | None = None, at: dt.datetime | None = None) -> MemoryItem:
        """Store one item (flushed with the caller's transaction); a slow embedder's vector comes later."""
        item = MemoryItem(id=uuid.uuid4(), user_id=user_id, kind=kind, text=text_, source_id=source_id,
                          created_at=at or utcnow())
        await self._vector_now(item)
        session.add(item)
        return item

    async def _vector_now(self, item: MemoryItem) -> None:
        if self.embedder.inline:
            [vector] = await self.embedder.embed([item.text])
            item.embedding, item.embedding_model, item.embedding_dim = vector, self.embedder.name, len(vector)
        else:
            item.embedding = item.embedding_model = item.embedding_dim = None
            if (state := self._state.get(item.user_id)) is not None:
                self._state[item.user_id] = (state[0], state[1], 0.0)  # something waits now

    async def remember_turn(self, session: AsyncSession, user_id: uuid.UUID, text_: str,
                            tools: Iterable[tuple[str, bool]], source_id: uuid.UUID | None = None,
                            at: dt.datetime | None = None) -> MemoryItem | None:
        """Keep a conversation turn as a "message" item, unless `remembers_turn` says it needn't be."""
        if not remembers_turn(text_, tools):
            return None
        return await self.add(session, user_id, "message", text_, source_id, at)

    async def reindex_source(self, session: AsyncSession, user_id: uuid.UUID, kind: str,
                             source_id: uuid.UUID, text_: str) -> None:
        """Make the item derived from a task or event say what its source says now."""
        item = await session.scalar(select(MemoryItem).where(
            MemoryItem.user_id == user_id, MemoryItem.source_id == source_id, MemoryItem.kind == kind))
        if item is None:
            await self.add(session, user_id, kind, text_, source_id)
        elif item.text != text_:
            item.text = text_
            await self._vector_now(item)

    async def forget_source(self, session: AsyncSession, user_id: uuid.UUID, source_id: uuid.UUID) -> None:
        """Remove what was derived from a deleted task or event."""
        await session.execute(
            delete(MemoryItem).where(MemoryItem.user_id == user_id, MemoryItem.source_id == source_id))

    async def find_same(self, session: AsyncSession, user_id: uuid.UUID, text_: str) -> MemoryItem | None:
        """A note of this user's that says (nearly) the same thing, if there is one."""
        words_ = or_query(text_)
        query = select(MemoryItem).where(MemoryItem.user_id == user_id, MemoryItem.kind == "note")
        if words_:
            tsq = func.to_tsquery(ENGLISH, words_)
            query = query.where(says(user_id, tsq)).order_by(func.ts_rank_cd(MemoryItem.tsv, tsq).desc()).limit(20)
        else:
            query = query.where(MemoryItem.text == text_).limit(1)
        for item in await session.scalars(query):
            if near_duplicate(item.text, text_):
                return item
        return None

    async def forget(self, session: AsyncSession, user_id: uuid.UUID, query: str | None = None,
                     memory_id: uuid.UUID | None = None, dry_run: bool = False) -> list[MemoryItem]:
        """Delete the notes and remarks that match (all the words of) `query`, or one item by id.

        Returns what was (with `dry_run`: would be) deleted; raises TooMany when the words match more
        than FORGET_LIMIT items.
        Tasks and events are not forgotten here: deleting them removes what memory keeps of them.
        """
        mine = (MemoryItem.user_id == user_id, MemoryItem.kind.in_(("note", "message")))
        if memory_id is not None:
            found = list(await session.scalars(select(MemoryItem).where(*mine, MemoryItem.id == memory_id)))
        else:
            found = await self._forget_candidates(session, user_id, query or "")
        if len(found) > FORGET_LIMIT:
            raise TooMany(len(found))
        if found and not dry_run:
            await session.execute(delete(MemoryItem).where(*mine, MemoryItem.id.in_([i.id for i in found])))
            # A cached vector is derived from the text too: a forgotten text leaves nothing behind.
            await session.execute(delete(EmbeddingCache).where(
                EmbeddingCache.text_hash.in_({text_hash(i.text) for i in found})))
            # The conversation log quoted it too ("remember …", "Got it, I'll remember: …"): redact those
            # turns, so no recent-turns context brings it back.
            like = ["%" + re.sub(r"([\\%_])", r"\\\1", i.text) + "%" for i in found]
            await session.execute(text(
                "UPDATE messages SET text = '[forgotten]', actions = NULL WHERE user_id = :uid "
                "AND (id = ANY(CAST(:ids AS uuid[])) OR text ILIKE ANY(CAST(:like AS text[])) "
                "OR CAST(actions AS text) ILIKE ANY(CAST(:like AS text[])))"),
                {"uid": user_id, "ids": [i.source_id for i in found if i.source_id], "like": like})
        return found

    async def _forget_candidates(self, session: AsyncSession, user_id: uuid.UUID, query: str) -> list[MemoryItem]:
        wanted = content_words(query)
        if not wanted:
            return []
        mine = (MemoryItem.user_id == user_id, MemoryItem.kind.in_(("note", "message")))
        tsq = func.plainto_tsquery(ENGLISH, " ".join(w for w in words(query) if w not in STOP))
        every = list(await session.scalars(select(MemoryItem).where(*mine, says(user_id, tsq)).limit(FORGET_LIMIT + 1)))
        if every:
            return every
        # No item has every word: take the best match when it shares at least half of them.
        hits = await self.search(session, user_id, query, k=1, kinds=("note", "message"))
        if hits and len(content_words(hits[0].text) & wanted) * 2 >= len(wanted):
            return list(await session.scalars(select(MemoryItem).where(*mine, MemoryItem.id == uuid.UUID(hits[0].id))))
        return []

    # ------------------------------------------------------------ embedding

    async def embed_texts(self, session: AsyncSession, texts: list[str]) -> list[list[float]]:
        """Vectors for `texts`; a slow embedder's are looked up in (and added to) the cache first.

        This is on the search's path: it runs on the session's own connection, vectors in binary.
        """
        if self.embedder.inline or not texts:
            return await self.embedder.embed(texts)
        model = self.embedder.name
        keys = [text_hash(t) for t in texts]
        rows = await _fetch(session, "SELECT text_hash, embedding FROM embedding_cache "
                                     "WHERE model = :m AND text_hash = ANY(CAST(:hs AS bytea[]))",
                            {"m": model, "hs": list(set(keys))})
        cached = {bytes(h): parse_vector(v) for h, v in rows}
        missing = list(dict.fromkeys(t for t, h in zip(texts, keys, strict=True) if h not in cached))
        if missing:
            fresh = await self.embedder.embed(missing)
            new = {text_hash(t): v for t, v in zip(missing, fresh, strict=True)}
            await _fetch(session, "INSERT INTO embedding_cache (model, text_hash, embedding) "
                                  "SELECT :m, h, e FROM unnest(CAST(:hs AS bytea[]), CAST(:es AS vector[])) AS x(h, e) "
                                  "ON CONFLICT DO NOTHING",
                         {"m": model, "hs": list(new), "es": [Vector(v) for v in new.values()]})
            cached.update(new)
        return [cached[h] for h in keys]

    async def _embed_rows(self, session: AsyncSession, rows: Sequence[Any]) -> None:
        vectors = await self.embed_texts(session, [r.text for r in rows])
        await _fetch(session, "UPDATE memory_items m SET embedding = x.e, embedding_model = :model, "
                              "embedding_dim = vector_dims(x.e) "
                              "FROM unnest(CAST(:ids AS uuid[]), CAST(:es AS vector[])) AS x(id, e) WHERE m.id = x.id",
                     {"model": self.embedder.name, "ids": [r.id for r in rows], "es": [Vector(v) for v in vectors]})

    async def catch_up(self, session: AsyncSession, user_id: uuid.UUID,
                       budget: float = CATCH_UP_BUDGET) -> tuple[int, bool]:
        """Embed this user's items that wait for a vector of the current model (within `budget` seconds).

        Returns how many were embedded and whether none is left waiting.
        """
        done, deadline = 0, time.monotonic() + budget
        while True:
            rows = (await session.execute(text(_PENDING), {
                "uid": user_id, "current": self.embedder.name, "n": CATCH_UP_BATCH})).all()
            if not rows:
                return done, True
            try:
                await self._embed_rows(session, rows)
            except Exception:  # the model or endpoint failed: search still works by words
                log.warning("could not embed memory for a search; using words only", exc_info=True)
                return done, False
            done += len(rows)
            if len(rows) < CATCH_UP_BATCH:
                return done, True
            if time.monotonic() > deadline:
                return done, False

    async def embed_pending(self, sessions: async_sessionmaker, batch: int = 256, budget: float | None = None,
                            progress: Callable[[int], None] | None = None) -> int:
        """Embed every item (all users) still waiting for a vector of the current model; commits per batch."""
        deadline = time.monotonic() + budget if budget is not None else None
        done = 0
        async with sessions() as session:
            users = list(await session.scalars(select(User.id)))
        for user_id in users:
            while True:
                async with sessions() as session, session.begin():
                    rows = (await session.execute(text(_PENDING), {
                        "uid": user_id, "current": self.embedder.name, "n": batch})).all()
                    if rows:
                        await self._embed_rows(session, rows)
                done += len(rows)
                if progress and rows:
                    progress(len(rows))
                if deadline is not None and time.monotonic() > deadline:
                    return done
                if len(rows) < batch:
                    break
        return done

    async def pending_count(self, session: AsyncSession) -> int:
        """How many items (all users) wait for a vector of the current model."""
        return int(await session.scalar(text(
            "SELECT count(*) FROM memory_items WHERE embedding_model IS DISTINCT FROM :m"),
            {"m": self.embedder.name}) or 0)

    async def ensure_ann_index(self, engine: Any, dim: int) -> bool:
        """Create the HNSW index for vectors of `dim` dimensions if it is missing (concurrently)."""
        if not 0 < dim <= 2000:  # pgvector's HNSW limit
            return False
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_memory_hnsw_{dim} ON memory_items USING hnsw "
                f"((embedding::vector({dim})) vector_cosine_ops) WITH (m = 16, ef_construction = 64) "
                f"WHERE embedding_dim = {dim}"))
        self._ann_dims = None
        return True

    # ------------------------------------------------------------ searching

    async def _has_ann(self, session: AsyncSession, dim: int) -> bool:
        if self._ann_dims is None:
            names = await session.scalars(text(
                "SELECT indexname FROM pg_indexes "
                "WHERE tablename = 'memory_items' AND indexname LIKE 'ix_memory_hnsw_%'"))
            self._ann_dims = {int(n.rsplit("_", 1)[1]) for n in names if n.rsplit("_", 1)[1].isdigit()}
        return dim in self._ann_dims

    async def _statistics(self, session: AsyncSession) -> _Stats:
        """How common the frequent words are across all memories, how many memories and users there
        are (Postgres' statistics and a count; refreshed hourly)."""
        if self._freq is not None and self._freq[1] > time.monotonic():
            return self._freq[0]
        total, users = (await session.execute(text(
            "SELECT greatest(reltuples, 0), (SELECT count(*) FROM users) FROM pg_class "
            "WHERE oid = CAST('memory_items' AS regclass)"))).one()
        row = (await session.execute(text(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'memory_items' AND attname = 'tsv'"))).first()
        # the frequencies end with three summary figures (min, max, nulls): zip drops them
        pairs = list(zip(row[0], row[1], strict=False)) if row and row[0] else []
        # words Postgres did not list are rarer than the rarest it did
        floor = min((float(f) for _, f in pairs), default=2e-4) / 2
        # below 0.1% a word's weight hardly differs from an unlisted one's: keep fewer
        table = {w: float(f) for w, f in pairs if f >= 0.001}
        stats = _Stats(table, floor, float(total), int(users))
        self._freq = (stats, time.monotonic() + FREQ_TTL)
        return stats

    async def search(self, session: AsyncSession, user_id: uuid.UUID, query: str, k: int = 5,
                     kinds: tuple[str, ...] = KINDS) -> list[Hit]:
        """The k items of this user that best fit `query`: vector and full-text ranks, fused.

        The statement also counts the user's vectors and looks for items waiting for one, unless
        both are freshly known (SIZE_TTL, CLEAN_TTL); a backlog is embedded and the search redone.
        """
        now = time.monotonic()
        size, size_until, clean_until = self._state.get(user_id, (0, 0.0, 0.0))
        meta = size_until <= now or clean_until <= now
        asked = relations_asked(query)
        rels = set().union(*asked.values())
        said = query  # what the word leg looks for
        if rels:  # "my son" (or "Kofi's wife") is Felix in this user's notes: look for Felix too
            notes = list(await session.scalars(select(MemoryItem.text).where(
                MemoryItem.user_id == user_id, MemoryItem.kind == "note",
                says(user_id, func.to_tsquery(ENGLISH, " | ".join(
                    "(" + " & ".join(words(r)) + ")" for r in sorted(rels))))).limit(50)))
            names = list(dict.fromkeys(n for owner, r in asked.items() for n in relation_names(r, notes, owner)))[:3]
            if names:
                # the relation is that name now: "son" would count Felix twice in "my son Felix's coach"
                said = f"{_REL_IN_QUERY.sub(' ', query)} ({', '.join(names)})"
                query = f"{query} ({', '.join(names)})"
        try:
            [vector] = await self.embed_texts(session, [query])
        except Exception:  # no vector for the query: the words still find things
            log.warning("could not embed a search query; using words only", exc_info=True)
            vector = []
        said = said[:MAX_TEXT_QUERY]
        with_words = any(w not in STOP for w in words(said))
        if not vector and not with_words:
            return []
        params: dict[str, Any] = {"uid": user_id, "model": self.embedder.name if vector else "",
                                  "current": self.embedder.name,
                                  "kinds": list(kinds),
                                  "qv": vector or [0.0],  # in binary, by the connection's codec
                                  "minsim": min_similarity(self.embedder.name)}
        if with_words:
            stats = await self._statistics(session)
            # the words notes use for the people named by relation ("mom" → "mother") are related words too
            related = " ".join([related_words(said), *sorted(rels - set(words(said)))])
            clex = candidate_lexemes(f"{said} {related}", stats.words, stats.stems)
            shapes = value_shapes(said)
            if shapes:
                params.update(shapes=shapes, shape_w=-GENERIC_WEIGHT * math.log(max(stats.floor, 1e-6)))
            params.update(query=said, related=related, clex=clex,
                          cfreq=[stats.words[w] for w in clex], common=COMMON, floor=stats.floor, budget=WORD_BUDGET)
            if not meta:  # a big user's count is only known to exceed EXACT_LIMIT: then count every memory
                params["size"] = float(size if size <= EXACT_LIMIT else max(stats.total, size))
        dim = len(vector)
        # A user not counted lately is searched exactly: always complete, and it counts them.
        exact = not vector or meta or size <= EXACT_LIMIT or not await self._has_ann(session, dim)
        n = max(CANDIDATES if exact else ANN_CANDIDATES, k)
        limits: tuple[int, int] | None = (n, k)
        if not exact:
            stats = await self._statistics(session)
            if stats.total < GENERIC_ANN_AVERAGE * max(stats.users, 1):
                # Next to many small users a generic plan would be costed for an average user and
                # might scan this big one's rows instead of the HNSW index: plan each search.
                limits = None
                params.update(n=n, k=k)
            if self._ef_default is None:
                self._ef_default = int(await session.scalar(text(
                    "SELECT coalesce(current_setting('hnsw.ef_search', true), '40')")) or 40)
            if self._ef_default < EF_SEARCH:
                await session.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(EF_SEARCH)})
        every = set(kinds) >= set(KINDS)
        shaped = "shapes" in params
        rows = await _fetch(session, _search_sql(exact, dim, with_words, meta, limits, every, shaped), params)
        if meta:
            [counts] = [r for r in rows if r[0] is None]
            rows = [r for r in rows if r[0] is not None]
            size, clean = int(counts[4]), not counts[5]
            if not clean:
                done, clean = await self.catch_up(session, user_id)
                size += done
                if done:  # the backlog has vectors now: search again with them
                    again = await _fetch(session, _search_sql(True, dim, with_words, True, (n, k), every, shaped),
                                         params)
                    rows = [r for r in again if r[0] is not None]
            self._state[user_id] = (size, now + SIZE_TTL, now + CLEAN_TTL if clean else 0.0)
        elif not exact and (not rows or rows[0][5] < min(n, size)):
            # The approximate index gave fewer candidates than this user has: do it exactly.
            rows = await _fetch(session, _search_sql(True, dim, with_words, False, (max(CANDIDATES, k), k), every,
                                                 shaped),
                                params)
        return [Hit(str(item_id), kind, body, float(score), at) for item_id, kind, body, at, score, _ in rows]


class TooMany(Exception):
    """A forget request that matches too many memories to delete them all on a guess."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} memories match")
        self.count = count


__all__ = ["CANDIDATES", "EXACT_LIMIT", "KINDS", "Hit", "Memory", "TooMany", "content_words", "says",
           "near_duplicate", "or_query", "remembers_turn"]
