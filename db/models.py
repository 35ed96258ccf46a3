"""SQLAlchemy 2 models: every row belongs to one user, every timestamp is aware UTC."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pgvector.sqlalchemy import Vector as _TextVector
from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy import Identity as SqlIdentity
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

EMBEDDING_DIM = 384

TZ = DateTime(timezone=True)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: TZ, dict[str, Any]: JSONB}



class Vector(_TextVector):
    """pgvector's column type, bound as is: the connection's codec sends vectors in binary (db/engine.py)."""

    cache_ok = True

    def bind_processor(self, dialect: Any) -> None:
        return None

def _id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _owner() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True)


class User(Base):
    """A person Pixie serves; one user may speak through several platforms."""

    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))  # a label: people are found by their identities
    tz: Mapped[str] = mapped_column(String(64))
    digest_time: Mapped[dt.time | None] = mapped_column(Time, default=dt.time(7, 30))
    digest_platform: Mapped[str | None] = mapped_column(String(32))
    # A chat on digest_platform for the digest (a Slack channel id); None: the user's private chat.
    digest_channel: Mapped[str | None] = mapped_column(String(200))
    # When the next daily digest is due (UTC); None while the digest is off.
    next_digest_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # A question Pixie asked back and is waiting on (which task did you mean?).
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # owner | member: owners admit others from chat (the terminal's users are trusted as they are).
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    # The secret in the user's forwarding address (pixie+<token>@…): mail to it is theirs. Rotatable.
    mail_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(back_populates="user", cascade="all, delete-orphan")


class Identity(Base):
    """A platform account (platform + platform user id) that speaks as one user."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = _owner()
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(200))
    chat_id: Mapped[str | None] = mapped_column(String(200))  # the private chat Pixie may write to
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column()  # picks where notifications go

    user: Mapped[User] = relationship(back_populates="identities")


class Message(Base):
    """One conversation turn, stored before it is acted on; (platform, external_id) dedupes deliveries."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("uq_messages_external", "platform", "external_id", unique=True,
              postgresql_where=text("external_id IS NOT NULL")),
        Index("ix_messages_user_time", "user_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    text: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def _external_key(table: str) -> Index:
    """(user, source, external id) names one remote item: what makes a sync's upsert idempotent."""
    return Index(f"uq_{table}_external", "user_id", "source", "external_id", unique=True,
                 postgresql_where=text("external_id IS NOT NULL"))


class Task(Base):
    """A to-do. `due_date` is the local due day; `due_at` is set when a time of day was given."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_user_status", "user_id", "status"), _external_key("tasks"),
                      Index("ix_tasks_anchor_event", "anchor_event_id",
                            postgresql_where=text("anchor_event_id IS NOT NULL")))
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    project: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(8), default="medium")
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | done
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    due_at: Mapped[dt.datetime | None] = mapped_column()
    remind_at: Mapped[dt.datetime | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(32), default="chat")
    external_id: Mapped[str | None] = mapped_column(Text)  # the item's id where it came from
    etag: Mapped[str | None] = mapped_column(Text)  # its version there, for If-Match
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    recurrence: Mapped[str | None] = mapped_column(Text)  # an RRULE: the next reminder is set when one fires
    # A reminder anchored to an event: `anchor_minutes` before its start, moving when it moves.
    anchor_event_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("events.id", ondelete="SET NULL"))
    anchor_minutes: Mapped[int | None] = mapped_column(Integer)


class Event(Base):
    """A calendar event; `recurrence` is an RFC 5545 RRULE expanded in the event's own zone."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_start", "user_id", "start_at"), _external_key("events"),
                      Index("ix_events_push", "calendar_id", postgresql_where=text("push IS NOT NULL")))
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    start_at: Mapped[dt.datetime] = mapped_column()
    end_at: Mapped[dt.datetime] = mapped_column()
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    tz: Mapped[str] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(Text)
    attendees: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    recurrence: Mapped[str | None] = mapped_column(Text)
    # For a recurring event: the last instant any occurrence can end (None: forever).
    series_end_at: Mapped[dt.datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="confirmed")  # confirmed | proposed | cancelled
    source: Mapped[str] = mapped_column(String(32), default="chat")
    # A synced event: its calendar (disconnecting an account deletes its calendars and so their events),
    # its remote id and version; an exception of a recurring series names the series' remote id and
    # the start of the instance it replaces (an instant; local midnight for an all-day series).
    calendar_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    series_id: Mapped[str | None] = mapped_column(Text)
    original_start_at: Mapped[dt.datetime | None] = mapped_column()
    # Two-way (core/twoway.py): what the calendar still has to be told (create | update | delete), the
    # fields as the calendar last held them, and the versions that lost to a newer edit on the other side.
    push: Mapped[str | None] = mapped_column(String(8))
    base: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Account(Base):
    """A connected outside account (a Google or Outlook calendar, a mailbox); its secret is encrypted at rest.

    `user_id` is None for the deployment's own accounts (the shared mailbox of PIXIE_IMAP_URL).
    """

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "remote_id", name="uq_accounts_remote"),
        Index("uq_accounts_deployment", "provider", "remote_id", unique=True,
              postgresql_where=text("user_id IS NULL")),
        Index("ix_accounts_due", "kind", "status", "next_sync_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))  # google | outlook | imap
    kind: Mapped[str] = mapped_column(String(16))  # calendar | mail
    remote_id: Mapped[str] = mapped_column(String(320))  # the account there (an address, a login)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet token (core.vault), never clear text
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # e.g. a mailbox's UIDVALIDITY and last UID
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")  # | auth_expired
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in a row, for backoff
    next_sync_at: Mapped[dt.datetime | None] = mapped_column()  # not before this (after a failure)
    last_synced_at: Mapped[dt.datetime | None] = mapped_column()
    connected_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # (re)connected: a new expiry is news
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Calendar(Base):
    """A calendar of a connected account: whether it is synced, whether new events go there, its sync token."""

    __tablename__ = "calendars"
    __table_args__ = (
        UniqueConstraint("account_id", "remote_id", name="uq_calendars_remote"),
        # At most one calendar per user takes new events.
        Index("uq_calendars_default", "user_id", unique=True, postgresql_where=text("is_default")),
    )
    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = _owner()
    remote_id: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    tz: Mapped[str | None] = mapped_column(String(64))
    writable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    selected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))  # synced
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    sync_token: Mapped[str | None] = mapped_column(Text)
    # The sync-code version that made sync_token: an older one forces a full resync (core.accounts).
    token_version: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    synced_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MemoryItem(Base):
    """Something Pixie remembers: a note, a task, an event or a conversation turn."""

    __tablename__ = "memory_items"
    __table_args__ = (
        Index("ix_memory_user_kind_source", "user_id", "kind", "source_id"),
        Index("ix_memory_user_tsv", "user_tsv", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
        Index("ix_memory_user_model", "user_id", "embedding_model"),
        # HNSW on 384-d vectors, only for users with very many memories (migration 0002 creates it).
        Index("ix_memory_hnsw_384", text("(embedding::vector(384)) vector_cosine_ops"), postgresql_using="hnsw",
              postgresql_with={"m": 16, "ef_construction": 64}, postgresql_where=text("embedding_dim = 384")),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # note | task | event | message
    source_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    text: Mapped[str] = mapped_column(Text)
    # Words for full-text search (never read into Python: deferred).
    tsv: Mapped[Any] = mapped_column(TSVECTOR, Computed("to_tsvector('english', text)", persisted=True),
                                     deferred=True)
    # The same words, each prefixed with the owner's id (functions from migration 0007): one user's index.
    user_tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed("pixie_user_tsv(user_id, to_tsvector('english', text))", persisted=True), deferred=True)
    embedding: Mapped[Any | None] = mapped_column(Vector())  # any model's dimension, see embedding_dim
    embedding_model: Mapped[str | None] = mapped_column(String(200))  # None: not embedded yet
    embedding_dim: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EmbeddingCache(Base):
    """A vector already computed for (model, sha256 of the text): the same text is never embedded twice."""

    __tablename__ = "embedding_cache"
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    embedding: Mapped[Any] = mapped_column(Vector())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class Notification(Base):
    """Something Pixie pushes on its own (a reminder, the digest); `key` makes it happen once."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_unsent", "user_id", "sent_at"),
        Index("ix_notifications_open", "status", "next_attempt_at",
              postgresql_where=text("status IN ('queued', 'sending')")),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # reminder | digest
    text: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    due_at: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # queued → sending (held by one worker until lease_until) → sent | failed (last_error says why).
    # A row still "sending" after its lease is in doubt: the worker died mid-send (see jobs/reminders.py).
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    # The worker holding a "sending" row (JobContext.holder): once its alive mark in Redis is gone the
    # row is in doubt before its lease ends (jobs/delivery.py, abandoned).
    lease_holder: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()  # a transient failure: not before this
    platform: Mapped[str | None] = mapped_column(String(32))  # where it was (or is being) delivered


class Reminder(Base):
    """A moment to nudge the user about a task; fired exactly once, or snoozed to a new moment."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "status", "remind_at"),)
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    remind_at: Mapped[dt.datetime] = mapped_column()
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | fired | cancelled
    fired_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=func.now())


class AccessCode(Base):
    """A one-time code: pairs the first owner, admits an invitee, or links another platform to a user."""

    __tablename__ = "access_codes"
    id: Mapped[uuid.UUID] = _id()
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256: a dump holds no usable code
    kind: Mapped[str] = mapped_column(String(16))  # pair | invite | link
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class Stranger(Base):
    """Someone not admitted who wrote to Pixie: refused once, and counted so codes cannot be guessed."""

    __tablename__ = "strangers"
    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform_user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    refused_at: Mapped[dt.datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    admitted_at: Mapped[dt.datetime | None] = mapped_column()  # an owner admitted them by id


class Inbound(Base):
    """A platform delivery stored before it is acknowledged; (platform, event_id) makes it count once."""

    __tablename__ = "inbound"
    __table_args__ = (
        UniqueConstraint("platform", "event_id", name="uq_inbound_event"),
        Index("ix_inbound_unhandled", "platform", "received_at", postgresql_where=text("handled_at IS NULL")),
    )
    id: Mapped[uuid.UUID] = _id()
    platform: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # dropped once handled
    # The reply stored with the turn, until the platform took it (the outbox: sent after a crash, once).
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[dt.datetime | None] = mapped_column()


class LlmUsage(Base):
    """Model tokens and cost for one user, local day, provider and model (no FK: accounting outlives users)."""

    __tablename__ = "llm_usage"
    __table_args__ = (UniqueConstraint("user_id", "day", "provider", "model", name="uq_llm_usage_day"),)
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    day: Mapped[dt.date] = mapped_column(Date)  # in the user's time zone
    provider: Mapped[str] = mapped_column(String(32))  # anthropic | openai | offline
    model: Mapped[str] = mapped_column(String(200))
    calls: Mapped[int] = mapped_column(Integer, default=0)  # answered model calls
    errors: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts (429, 5xx, timeouts)
    fallbacks: Mapped[int] = mapped_column(Integer, default=0)  # turns answered by a fallback
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)  # every prompt token, cached or not
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Any] = mapped_column(Numeric(14, 6), default=0)
    priced: Mapped[bool] = mapped_column(Boolean, default=True)  # False: some calls had no known price
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MailSender(Base):
    """An address a user registered as theirs: mail they forward by hand is accepted on a pinned DMARC/DKIM pass."""

    __tablename__ = "mail_senders"
    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower case; one user per address
    user_id: Mapped[uuid.UUID] = _owner()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Mail(Base):
    """A message read from the mailbox, recorded once: handled for its user, or rejected with the reason.

    `key` is its Message-ID with a hash of its body, so the same mail fetched again (after a crash,
    or under a new UIDVALIDITY) is recognised and a different mail reusing a Message-ID is not.
    """

    __tablename__ = "mails"
    __table_args__ = (UniqueConstraint("account_id", "key", name="uq_mails_key"),)
    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # handled | rejected | confirmation | flagged (talks to an AI)
    reason: Mapped[str | None] = mapped_column(Text)  # why it was rejected (never its content)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime | None] = mapped_column()  # the server's INTERNALDATE
    handled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Change(Base):
    """One row a user's change touched, before and after (written by a trigger, migration 0014); undo reads it."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_user_change", "user_id", "change_id"),
                      Index("ix_changes_user_seq", "user_id", "seq"))
    seq: Mapped[int] = mapped_column(BigInteger, SqlIdentity(), primary_key=True)
    change_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str | None] = mapped_column(String(32))  # chat | button | email | cli
    tbl: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(8))
    row_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    old: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    undone_at: Mapped[dt.datetime | None] = mapped_column()
