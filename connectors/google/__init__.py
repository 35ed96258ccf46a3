"""Google Calendar: `auth` (the OAuth client and a user's grant), `client` (the API as a CalendarSource),
`wire` (Google's JSON ↔ core.sources), `sync` (the incremental loop into Pixie's own calendar)."""
