"""SQLAlchemy 2 models: every row belongs to one user, every timestamp is aware UTC."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    Boolean,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

EMBEDDING_DIM = 384

TZ = DateTime(timezone=True)


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: TZ, dict[str, Any]: JSONB}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)


def _owner() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), index=True)


class User(Base):
    """A person Pixie serves; one user may speak through several platforms."""

    __tablename__ = "users"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tz: Mapped[str] = mapped_column(String(64))
    digest_time: Mapped[dt.time | None] = mapped_column(Time, default=dt.time(7, 30))
    digest_platform: Mapped[str | None] = mapped_column(String(32))
    # When the next daily digest is due (UTC); None while the digest is off.
    next_digest_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # A question Pixie asked back and is waiting on (which task did you mean?).
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
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
    chat_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

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


class Task(Base):
    """A to-do. `due_date` is the local due day; `due_at` is set when a time of day was given."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_user_status", "user_id", "status"),)
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
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()


class Event(Base):
    """A calendar event; `recurrence` is an RFC 5545 RRULE expanded in the event's own zone."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_start", "user_id", "start_at"),)
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
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MemoryItem(Base):
    """Something Pixie remembers: a note, a task, an event or a conversation turn."""

    __tablename__ = "memory_items"
    __table_args__ = (
        Index("ix_memory_user_kind_source", "user_id", "kind", "source_id"),
        Index("ix_memory_tsv", "tsv", postgresql_using="gin"),
    )
    id: Mapped[uuid.UUID] = _id()
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # note | task | event | message
    source_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    text: Mapped[str] = mapped_column(Text)
    tsv: Mapped[Any] = mapped_column(TSVECTOR, Computed("to_tsvector('english', text)", persisted=True))
    embedding: Mapped[Any | None] = mapped_column(Vector(EMBEDDING_DIM))
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """Something Pixie pushes on its own (a reminder, the digest); `key` makes it happen once."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_unsent", "user_id", "sent_at"),)
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
