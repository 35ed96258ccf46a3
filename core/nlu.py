"""The offline brain's understanding: one chat message in, one Intent (a tool and its arguments) out.

Pure and fast: regular expressions over a normalised message plus the time parser of
core.timeparse. The order of the checks is the order of precedence: social talk, help,
facts to remember, changes to existing tasks, questions (tasks, calendar, availability,
memory), and last new tasks and events.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from core import timeparse as tp
from core.intents import Intent

# ---------------------------------------------------------------- normalising

_TYPOS = {
    "teh": "the", "hte": "the", "calender": "calendar", "calandar": "calendar", "calander": "calendar",
    "calnedar": "calendar", "calendr": "calendar", "pls": "please", "plz": "please", "pleas": "please",
    "remeber": "remember", "rember": "remember", "remmeber": "remember", "remembr": "remember",
    "rmember": "remember", "remnd": "remind", "remidn": "remind", "remaind": "remind",
    "meting": "meeting", "meeing": "meeting", "meetign": "meeting", "metting": "meeting", "mtg": "meeting",
    "apointment": "appointment", "appointmnet": "appointment", "appoinment": "appointment", "appt": "appointment",
    "shedule": "schedule", "schedual": "schedule", "scedule": "schedule", "schdule": "schedule",
    "bday": "birthday", "b-day": "birthday", "birthdy": "birthday", "bday's": "birthday's",
    "u": "you", "ur": "your", "wanna": "want to", "gonna": "going to", "gotta": "got to",
    "dont": "don't", "cant": "can't", "wont": "won't", "didnt": "didn't", "doesnt": "doesn't",
    "isnt": "isn't", "havent": "haven't", "im": "I'm", "ive": "I've", "whats": "what's",
    "wheres": "where's", "whens": "when's", "thx": "thanks", "thnx": "thanks", "thanx": "thanks",
    "tysm": "thanks so much", "abt": "about", "w/": "with", "tonite": "tonight",
    "2nite": "tonight", "2day": "today", "todo's": "todos", "taks": "task", "tsak": "task",
    "tasl": "task", "tomorow": "tomorrow", "tommorow": "tomorrow", "tommorrow": "tomorrow",
    "pasword": "password", "passwrod": "password", "pw": "password", "pwd": "password",
    "adress": "address", "addr": "address", "wk": "week", "recieve": "receive", "arvo": "afternoon",
    "wat": "what", "wht": "what", "whta": "what", "tmrw's": "tomorrow's", "finsihed": "finished",
    "fnished": "finished", "finshed": "finished", "compelted": "completed", "priorty": "priority",
    "prio": "priority", "urgnet": "urgent",
}
_TYPO_RE = re.compile(r"(?<![\w'/-])(" + "|".join(re.escape(k) for k in sorted(_TYPOS, key=len, reverse=True))
                      + r")(?![\w'/-])", re.IGNORECASE)


def _fix(m: re.Match[str]) -> str:
    word = m[0]
    fixed = _TYPOS[word.lower()]
    if fixed == word.lower():
        return word
    return fixed[0].upper() + fixed[1:] if word[0].isupper() else fixed


_QUOTES = str.maketrans("’‘“”\u00a0", "''\"\" ")


def normalise(text: str) -> str:
    """Straight quotes, common typos fixed, "@" read as "at", spaces collapsed."""
    s = text.translate(_QUOTES)
    s = _TYPO_RE.sub(_fix, s)
    s = re.sub(r"\s@\s*(?=\d)", " at ", s)
    return re.sub(r"\s+", " ", s).strip()


# ---------------------------------------------------------------- the message

@dataclass
class _Msg:
    text: str  # normalised, original case
    low: str  # lower case, same indices
    now: dt.datetime
    whens: list[tp.When]
    b: int = 0  # where the request starts, after greetings and "can you"
    cut: list[tuple[int, int]] = field(default_factory=list)  # spans to leave out of titles

    @property
    def body(self) -> str:
        return self.low[self.b:]

    def when_after(self, pos: int) -> list[tp.When]:
        return [w for w in self.whens if w.start >= pos]


def _piece(m: _Msg, lo: int, hi: int, cut: list[tuple[int, int]] | None = None) -> str:
    """text[lo:hi] in its original case, without the cut spans."""
    spans = sorted(cut if cut is not None else m.cut)
    out, pos = [], lo
    for s, e in spans:
        if e <= pos or s >= hi:
            continue
        out.append(m.text[pos:max(s, pos)])
        out.append(" ")
        pos = max(pos, e)
    out.append(m.text[pos:hi])
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return tp.iso(value) if value is not None else None


# ---------------------------------------------------------------- vocabulary

_GREET = (r"(?:hi+|hello+|hey+|heya|hiya|howdy|yo|hallo|greetings|good\s+(?:morning|afternoon|evening|day|night)"
          r"|how\s+are\s+(?:you|u|things)(?:\s+doing)?(?:\s+today)?|how'?s\s+it\s+going|how\s+is\s+it\s+going"
          r"|what'?s\s+new|how\s+have\s+you\s+been|how\s+do\s+you\s+do|nice\s+to\s+meet\s+you"
          r"|morning|evening|afternoon|gm|sup|what'?s\s+up|wassup|hey\s+there|hi\s+there)")
_THANKS = (r"(?:thanks?(?:\s+(?:you|so\s+much|a\s+lot|a\s+bunch|again|loads|heaps|much))*|cheers|many\s+thanks"
           r"|much\s+appreciated|appreciate\s+(?:it|that|you|this)|thank\s+u|you'?re\s+(?:a\s+|the\s+)?"
           r"(?:lifesaver|life\s+saver|best|awesome|amazing|great|star|gem|legend|hero)|(?:you\s+)?rock"
           r"|lifesaver|legend|great\s+job|good\s+job|nice\s+one|well\s+done|ty)")
_ACK = (r"(?:ok(?:ay)?|k+|kk|cool|great|nice|good|fine|alright|all\s+right|sure|got\s+it|sounds\s+good|perfect"
        r"|awesome|yes|yeah|yep|yup|no|nope|nah|right|understood|noted|will\s+do|lol|haha+|hmm+|ah+|oh+|wow"
        r"|sweet|excellent|np|no\s+problem|no\s+worries|never\s*mind|nvm|bye|goodbye|see\s+you|later|ttyl"
        r"|good\s+night|night|gn)")
_NAME = r"(?:pixie|bot|there|buddy|friend|mate|again)"
_SOCIAL_WORD = rf"(?:{_GREET}|{_THANKS}|{_ACK})(?:\s+{_NAME})*"
_SOCIAL_SEP = r"[\s!.,;:?~)(\-]"
# social words only, each piece apart from the next (so "kkkk" cannot be split many ways)
_SOCIAL_RE = re.compile(rf"{_SOCIAL_SEP}*{_SOCIAL_WORD}(?:{_SOCIAL_SEP}+{_SOCIAL_WORD})*{_SOCIAL_SEP}*")
_LEAD_RE = re.compile(
    rf"(?:(?:{_GREET}|{_THANKS}|ok(?:ay)?|so|also|and|oh|um+|uh+|ugh+|well|btw|by\s+the\s+way|quick\s+one"
    r"|quick\s+question|actually|hmm+|right|alright|pixie|please|kindly|just|hey\s+pixie)(?:\s+pixie)?\b"
    r"[\s,:;!.\-—–]*)+")
_ASK_RE = re.compile(r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+|kindly\s+|also\s+|just\s+|quickly\s+)*"
                     r"|(?:i'?d\s+like\s+you\s+to|i\s+want\s+you\s+to|i\s+need\s+you\s+to|i\s+would\s+like\s+you\s+to"
                     r"|would\s+you\s+mind|please|pls)\s+)")
_HELP_RE = re.compile(r"(?:help|help\s+me|\?+|what\s+can\s+you\s+do(?:\s+for\s+me)?|what\s+do\s+you\s+do"
                      r"|how\s+do(?:es)?\s+(?:this|you|it|pixie)\s+work|what\s+are\s+you|who\s+are\s+you"
                      r"|what\s+are\s+your\s+(?:features|commands|abilities|skills)|commands|menu|options"
                      r"|how\s+do\s+i\s+use\s+(?:you|this|pixie)|what\s+can\s+i\s+(?:ask|say|do)(?:\s+here)?"
                      r"|what\s+should\s+i\s+say|instructions|usage|help\s+please)[\s?!.]*")
_QWORD = re.compile(r"^(?:what|what's|whats|when|when's|where|where's|who|who's|whom|whose|which|why|how|is|are|am"
                    r"|was|were|any|anything|show|list|tell\s+me|give\s+me|display|can\s+i|could\s+i|should\s+i"
                    r"|will\s+i|may\s+i|got\s+any|(?:do|did|have|has|had)\s+(?:i|you|we|they|he|she|it|my|our|u)"
                    r"|does\s+\w+|(?:check|see)\s+(?:if|whether|what|my\s+(?:calendar|schedule|agenda|tasks|to-?dos?"
                    r"|todo|list)))\b")

_PRIORITY_WORDS = [
    ("low", r"no\s+rush|not\s+urgent|no\s+hurry|low[-\s]*priority|low\s+prio(?:rity)?|whenever(?:\s+(?:i|you)\s+"
            r"(?:get|have)\s+(?:a\s+chance|time|a\s+sec))?|some\s*day|eventually|at\s+some\s+point|if\s+(?:i|you)"
            r"\s+(?:have|get)\s+time|not\s+important|p3|lowest\s+priority|when\s+(?:i|you)\s+(?:get|have)\s+"
            r"(?:a\s+chance|time)|no\s+deadline"),
    ("high", r"urgent(?:ly)?|asap|a\.s\.a\.p\.?|as\s+soon\s+as\s+possible|high[-\s]*priority|top\s+priority"
             r"|high\s+prio(?:rity)?|(?:very\s+|super\s+|really\s+)?important|critical|p1|right\s+away|immediately"
             r"|priority\s*:\s*high|top\s+of\s+the\s+list|time[-\s]sensitive"),
    ("medium", r"medium[-\s]*priority|normal\s+priority|mid\s+priority|priority\s*:\s*medium"),
]
_PRI_RES = [(name, re.compile(rf"\b(?:{pat})\b(?:\s+(?:one|task|item|please|pls))?[\s:,!.)\-—–]*"))
            for name, pat in _PRIORITY_WORDS]
# the words that lead up to a priority ("..., it's pretty urgent"), read backwards from it
_PRI_LEAD = re.compile(r"[\s,;:(\-—–]*(?:\b(?:it'?s|it\s+is|this\s+is|that'?s|that\s+is|make\s+it|mark\s+it|kinda"
                       r"|kind\s+of|pretty|quite|very|really|super|fairly|a\s+bit|somewhat|rather|as|and|but|so|also)"
                       r"\s+)*$")

_EVENT_NOUN = re.compile(
    r"\b(?:meeting|meetings|appointment|dinner|lunch|breakfast|brunch|coffee|drinks|sync|standup|stand-up|1:1"
    r"|one-on-one|1-on-1|lessons?|class|classes|lecture|seminar|interview|haircut|party|club|review|conference"
    r"|workshop|webinar|session|training|practice|rehearsal|recital|game|match|concert|show|movie|flight|wedding"
    r"|funeral|ceremony|offsite|off-site|retreat|check-?up|dentist|doctor|doctor's|physio|therapy|therapist"
    r"|massage|vet|yoga|gym|pilates|workout|hike|trip|tour|meetup|meet-up|hangout|catch-?up|get-together"
    r"|gathering|bbq|barbecue|picnic|presentation|demo|keynote|retro|retrospective|kick-?off|all-hands|huddle"
    r"|exam|playdate|sleepover|celebration|festival|date\s+night|call\s+with|video\s+call|zoom|1on1|event|visit"
    r"|shift|surgery|scan|tennis|football|soccer|golf|basketball|swim(?:ming)?|choir|church|service|reception"
    r"|graduation|shower|play|performance|gala|premiere|screening|exhibition|fair|parade|ballet|opera|theatre"
    r"|theater|musical|viewing|consultation|orientation)\b")
_EVENT_REF = re.compile(r"\b(?:meeting|appointment|event|sync|standup|stand-up|dinner|lunch|interview|party|lesson"
                        r"|class|session|call\s+with|1:1|haircut|calendar|flight|conference|webinar|workshop)\b")
_CHORE_VERBS = set((
    "call ring phone text email e-mail message write send mail post submit file pay buy get pick drop take bring "
    "return renew order reserve fix repair clean tidy wash do make prepare prep draft finish complete review read "
    "check update upload download print sign scan fill apply register sort organise organize research look find "
    "ask tell follow reply respond answer confirm chase contact water feed walk mow vacuum iron cook bake pack "
    "unpack move sell donate install back change replace charge collect deliver ship wrap refill recycle empty "
    "start learn study practise edit proofread translate test deploy merge publish share figure think decide "
    "shop exchange top transfer withdraw deposit invoice bill quote hire cancel book go clear remove "
    "dispose recharge vote file hand turn hang plant trim paint print archive backup finalize finalise "
    "outline brainstorm investigate debug refactor ship sweep wipe "
    "dust polish grab buy renew lock unlock open close pay settle claim collect print").split())
_EVENT_VERBS = re.compile(r"^(?:(?:i'?m|we'?re|i\s+am|we\s+are)\s+(?:meeting|seeing)|meet|meeting|see|visit|attend"
                          r"|catch\s+up|hang\s+out|have\s+(?:a\s+|an\s+)?(?:lunch|dinner|breakfast|brunch|coffee"
                          r"|drinks|call|meeting|chat)|grab\s+(?:a\s+)?(?:lunch|dinner|breakfast|coffee|drinks|bite"
                          r"|beer))\b")
_IRREGULAR_PAST = {
    "sent": "send", "paid": "pay", "bought": "buy", "got": "get", "gotten": "get", "took": "take",
    "taken": "take", "made": "make", "did": "do", "done": "do", "wrote": "write", "written": "write",
    "met": "meet", "brought": "bring", "found": "find", "gave": "give", "given": "give", "told": "tell",
    "sold": "sell", "built": "build", "caught": "catch", "spent": "spend", "drove": "drive", "ate": "eat",
    "ran": "run", "spoke": "speak", "broke": "break", "chose": "choose", "hung": "hang", "kept": "keep",
    "fed": "feed", "hid": "hide", "held": "hold", "swept": "sweep", "threw": "throw", "thrown": "throw",
    "woke": "wake", "rang": "ring", "dug": "dig", "won": "win", "lent": "lend", "drew": "draw",
    "sorted": "sort", "went": "go", "gone": "go", "wore": "wear", "forgave": "forgive", "stuck": "stick",
    "began": "begin", "begun": "begin", "knew": "know", "read": "read", "put": "put", "cut": "cut",
    "shut": "shut", "set": "set", "let": "let", "hit": "hit", "quit": "quit", "left": "leave", "lit": "light",
    "sat": "sit", "stood": "stand", "understood": "understand", "rebuilt": "rebuild", "rewrote": "rewrite",
    "cancelled": "cancel", "canceled": "cancel", "travelled": "travel", "labelled": "label",
}
_NOT_DONE_VERBS = set((
    "need needed want wanted asked forgot started tried decided noticed realized realised heard thought liked "
    "loved hated wondered missed moved pushed changed rescheduled postponed delayed shifted planned scheduled "
    "used feed speed seed weed bed red shed wed bred breed bleed proceed exceed succeed embed hundred sacred "
    "naked wicked ragged rugged crooked aged beloved learned was were had said saw felt meant put read set let "
    "left went knew sat stood kept hit cut shut lit quit gone expected hoped wished agreed promised").split())
_DET = r"(?:the|a|an|my|our|that|this|those|these|his|her|their|your)"
_PRONOUN_REF = {"it", "that", "this", "them", "those", "these", "that one", "this one", "it all"}


def _past(word: str) -> bool:
    if word in _NOT_DONE_VERBS:
        return False
    if word in _IRREGULAR_PAST:
        return word not in ("read", "put", "cut", "set", "let", "hit", "shut", "quit", "left", "sat", "lit")
    return len(word) >= 5 and word.endswith("ed") and not word.endswith("eed")


def _base(word: str) -> str:
    """The plain verb of a past form ("sorted" -> "sort", "updated" -> "update")."""
    w = word.lower()
    if w in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[w]
    if w.endswith("ied"):
        return w[:-3] + "y"
    if not w.endswith("ed") or len(w) < 5:
        return w
    stem = w[:-2]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    if re.search(r"(?:at|et|iz|is|ul|ic|or|ar|ir|ur|v|g|ac|uc|id|ud|ot|bl|tl|pl|cl|gl|as|us|[aeiou]s)$", stem) \
            and not stem.endswith(("ss", "ll")):
        return stem + "e"
    return stem


# ---------------------------------------------------------------- small helpers

_PUNCT = " \t,;:.!?-—–'\"“”("
_LEAD_WORDS = {"to", "that", "and", "then", "also", "please", "just", "so", "but", "or", "about", "for", "of", "is"}
_TAIL_WORDS = set((
    "and then please thanks so but or to for on at by in due from with the a an it is are which that as of because "
    "cause cuz ok okay pls asap").split())


def _clean(s: str) -> str:
    """Trim connecting words and punctuation left at either end of a phrase."""
    words = s.split()
    changed = True
    while changed and words:
        changed = False
        first, last = words[0].strip(_PUNCT), words[-1].strip(_PUNCT)
        if not first or first.lower() in _LEAD_WORDS:
            words.pop(0)
            changed = True
        elif not last or last.lower() in _TAIL_WORDS or (
                last.lower() == "you" and len(words) > 1 and words[-2].lower() == "thank"):
            words.pop()
            changed = True
        else:
            head, tail = words[0].lstrip(_PUNCT), words[-1].rstrip(_PUNCT)
            changed = head != words[0] or tail != words[-1]
            words[0] = head
            words[-1] = tail if len(words) > 1 else tail.lstrip(_PUNCT)
    out = " ".join(words)
    out = re.sub(r"\s+([,;:.!?])", r"\1", out)
    return re.sub(r"([,;:])(?=[,;:])", "", out)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _strip_det(s: str) -> str:
    return re.sub(rf"^{_DET}\s+", "", s, flags=re.I)


def _priority(m: _Msg) -> str | None:
    low = m.low
    for name, rx in _PRI_RES:
        found = list(rx.finditer(low))
        if found:
            if name == "high" and re.search(r"\bnot\s+(?:very\s+|that\s+|too\s+)?(?:urgent|important)", low):
                continue
            for x in found:
                window = max(0, x.start() - 60)
                lead = _PRI_LEAD.search(low, window, x.start())
                m.cut.append((lead.start() if lead else x.start(), x.end()))
            return name
    return None


_PROJECT_RES = [
    re.compile(r"(?<![\w'])(?:(?:in|for|to|under|on|into|from|of|re)\s+)?(?:the\s+)?project\s*[:\-]?\s+"
               r"(?P<name>[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*|[\w\-]+)"),
    re.compile(r"(?<![\w'])(?:(?:in|for|to|under|on|into|from|of|re)\s+)?(?:the\s+|my\s+|our\s+)?"
               r"(?P<name>[A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*|[a-z][\w\-]*)\s+project\b"),
]
_NOT_PROJECT = set((
    "the a an this that my our your new big side school group next current each every one any which what same whole "
    "entire other personal by due for in on to at with from of and or is it its as per this that due before after "
    "until till tomorrow today tonight monday tuesday wednesday thursday friday saturday sunday week month the "
    "team work").split())


# "fix the auth bug in Avenue": a task "in" a capitalised name is in that project
_IN_NAME = re.compile(r"(?<![\w'])in\s+(?P<name>[A-Z][\w-]+)\b(?!\s+[A-Z]|'s)")


def _project(m: _Msg, lo: int = 0, loose: bool = False) -> str | None:
    rxs = [*_PROJECT_RES, _IN_NAME] if loose else _PROJECT_RES
    timed = [span for w in m.whens for span in w.spans]
    hits = [found for rx in rxs for found in rx.finditer(m.text, lo)
            if found["name"].lower() not in _NOT_PROJECT and not found["name"].lower().startswith(("tasks", "list"))
            and found["name"].lower() not in tp.MONTH and found["name"].lower() not in tp.WEEKDAY
            and not any(s < found.end() and found.start() < e for s, e in timed)]
    if not hits:
        return None
    found = min(hits, key=lambda x: x.start())
    m.cut.append(found.span())
    name = found["name"]
    return name if any(c.isupper() for c in name) else _cap(name)


def _clauses(s: str) -> list[str]:
    parts = re.split(r"\s*(?:[,;.!?]+|\s[-—–]+\s|\band\b|\bbut\b|\bso\b)\s*", s)
    return [p for p in parts if p.strip()]


_SUBJ = re.compile(r"^(?:(?:i|we|i'?ve|we'?ve|i'?m|we'?re|i'?ll|we'?ll|you)\s+)?(?:(?:still|really|also|just|"
                   r"finally|already|totally|completely|probably|definitely|should|must|need\s+to|have\s+to|"
                   r"has\s+to|got\s+to|'ve\s+got\s+to|want\s+to|haven'?t|have\s+not|hadn'?t|didn'?t|did\s+not|"
                   r"forgot\s+to|keep\s+forgetting\s+to|never|gotta|ought\s+to|'d\s+better|better)\s+)+", re.I)


def _statement_to_task(clause: str) -> str:
    """ "I still haven't sorted travel insurance" -> "sort travel insurance"."""
    s = clause.strip()
    m = _SUBJ.match(s)
    if m:
        perfect = re.search(r"haven'?t|have\s+not|hadn'?t", m[0], re.I)
        s = s[m.end():]
        if perfect:
            first, _, rest = s.partition(" ")
            s = f"{_base(first)} {rest}".strip()
    return s


_NP_STOP = re.compile(r"(?:[a-z]+ed|[a-z]+ing|is|are|was|were|be|been|wants?|needs?|asked|said|says|for|to|by|with"
                      r"|from|and|or|but|so|because|just|again|now|today|tomorrow)$", re.I)


def _last_np(clause: str) -> str | None:
    """The noun phrase after the clause's last determiner ("the Q4 numbers"), without a trailing participle."""
    dets = list(re.finditer(rf"\b{_DET}\b", clause, re.I))
    for det in reversed(dets):
        words: list[str] = []
        for w in clause[det.end():].split()[:5]:
            if words and _NP_STOP.match(w) or w.lower() in ("is", "are", "was", "were", "to", "for"):
                break
            words.append(w)
        while words and words[-1].lower() in ("back", "up", "out", "off", "over", "again", "done", "please"):
            words.pop()
        if words and not (det[0].lower() in ("my", "our", "his", "her", "their", "your") and len(words) == 1
                          and words[0].lower() in _PEOPLE):
            return f"{det[0]} {' '.join(words)}"
    return None


_PEOPLE = set((
    "boss manager mum mom mother dad father sister brother wife husband partner friend colleague team son "
    "daughter kids kid parents aunt uncle grandma grandpa teacher landlord neighbour neighbor client doctor "
    "dentist accountant lawyer coach cousin girlfriend boyfriend fiance fiancee family").split())


def _resolve_pronoun(content: str, context: str) -> str:
    """Put the last noun phrase of the context where the content says "them"/"it"."""
    if not re.search(r"\b(?:them|it|this|that|those|these)\b", content, re.I):
        return content
    for clause in reversed(_clauses(context)):
        phrase = _last_np(clause)
        if phrase:
            return re.sub(r"\b(?:them|it|this|that|those|these)\b", phrase, content, count=1, flags=re.I)
    return content


# ---------------------------------------------------------------- social, help, memory

def _social(m: _Msg) -> Intent | None:
    low = re.sub(r"[^\w\s'!.,;:?~()\-]", " ", m.low).strip()
    if not low:
        return Intent(None, reply_kind="ack" if m.low.strip() else "unknown")
    if not _SOCIAL_RE.fullmatch(low):
        return None
    kinds: set[str] = set()
    for g, t, a in re.findall(rf"\b(?:({_GREET})|({_THANKS})|({_ACK}))\b", low):
        kinds.update(k for k, v in (("g", g), ("t", t), ("a", a)) if v)
    kind = "thanks" if "t" in kinds else "greeting" if "g" in kinds else "ack"
    return Intent(None, reply_kind=kind)  # type: ignore[arg-type]


_STORE_LEAD = re.compile(
    r"^(?:(?:please|also|and|btw|oh)\s+)*(?:(?P<self>note\s+to\s+self|don'?t\s+forget(?!\s+that))"
    r"|(?:remember|memori[sz]e|note|keep\s+in\s+mind|make\s+a\s+note|take\s+(?:a\s+)?note|save|store|jot\s+down|write\s+down|don'?t\s+forget|do\s+not\s+forget|log)"
    r"(?:\s+(?:of\s+)?(?:that|this))?(?:\s+for\s+(?:later|me|the\s+future))?|fyi|f\.y\.i\.?|for\s+the\s+record|"
    r"(?:just\s+)?(?:so\s+)?you\s+know|for\s+(?:future\s+)?reference|heads\s+up)\b\s*[:,\-—–]?\s*")
_STORE_VERB = r"(?:remember|note|save|store|keep\s+in\s+mind|memori[sz]e)"
_STORE_TAIL = re.compile(
    rf"(?:(?:[,;.!\-—–]|\b(?:please|pls|so|and)\b)\s*(?:(?:please|pls|can\s+you|could\s+you)\s+)?{_STORE_VERB}"
    rf"(?:\s+(?:that|this|it))?|\b(?:(?:please|pls|can\s+you|could\s+you|and)\s+)?{_STORE_VERB}\s+(?:that|this|it))"
    r"\b(?:\s+(?:please|pls|for\s+me|for\s+later|thanks))*[\s.!]*$")
_LATER = re.compile(r"(?:for\s+(?:later|the\s+future|future\s+reference)|for\s+me)\b\s*[:,\-—–]?\s*")


def _remember(m: _Msg) -> Intent | None:
    body = m.body
    lead = _STORE_LEAD.match(body)
    tail = _STORE_TAIL.search(body)
    if tail and tail.start() == 0:
        tail = None
    if not lead and not tail:
        return None
    lo, hi = m.b, len(m.text)
    if lead:
        rest = body[lead.end():]
        if re.match(r"(?:to|about)\s", rest) and not rest.startswith("to the "):
            return None  # "remember to call mom" is a task
        if lead["self"] and (_chore(_lead_word(rest)) or m.whens):
            return None  # "note to self: buy a present" is a task too
        if body.rstrip().endswith("?") or re.match(r"(?:what|when|where|who|which|how|if)\b", rest):
            return None  # "remember what my locker number is?" asks
        lo = m.b + lead.end()
    if tail:
        hi = m.b + tail.start()
    later = _LATER.match(m.low, lo)
    if later:
        lo = later.end()
    text = m.text[lo:hi].strip(" \t,;:-—–")
    text = re.sub(r"[\s,;\-—–]+(?:please|pls|thanks|thank you|ok)\W*$", "", text, flags=re.I).strip()
    if len(re.sub(r"\W", "", text)) < 2:
        return None
    return Intent("remember", {"text": text})


# ---------------------------------------------------------------- changes to existing tasks

def _ref(s: str) -> str:
    """The words that name a task: no determiners, no "task"/"one"/"from my list"."""
    s = re.split(r"\s*(?:[,;!?]|\.(?:\s|$)|\s[-—–]+\s|\s(?:because|since|cause|cuz|as\s+i|i'?m|i\s+am|we'?re|"
                 r"i\s+don'?t|it'?s|thanks|please|pls)\b|✅|✔|☑)", s, maxsplit=1, flags=re.I)[0]
    s = re.sub(r"\b(?:from|off|on)\s+(?:my|the)\s+(?:to-?do\s+|todo\s+|task\s+)?(?:list|tasks|todos|to-?dos)\b.*$", "",
               s, flags=re.I)
    s = re.sub(r"\b(?:(?:'s\s+)?(?:task|todo|to-do|to\s+do|item|one|reminder|thing|deadline|due\s+date|entry)s?)\s*$",
               "", s.strip(), flags=re.I)
    s = re.sub(r"\b(?:as\s+)?(?:done|complete|completed|finished)\s*$", "", s.strip(), flags=re.I)
    s = re.sub(r"^(?:the\s+)?(?:task|todo|to-do|reminder|item)s?\s+(?:to\s+|for\s+|about\s+|called\s+)?", "",
               s.strip(), flags=re.I)
    s = _strip_det(s.strip())
    s = re.sub(r"\b(?:today|yesterday|this\s+morning|earlier|finally|already|just\s+now|now|at\s+last)\s*$", "",
               s.strip(), flags=re.I)
    s = re.sub(r"'s$", "", s.strip())
    s = re.sub(r"[^\w\s'&/#.,:+-]", " ", s)  # emoji and other marks
    return _clean(s)


def _from_statement(s: str) -> str:
    """ "I've sent the Acme invoice" -> "Acme invoice": the object of a past-tense statement."""
    s = re.sub(r"^(?:i|we)\s*(?:'ve|have|had)?\s+", "", s.strip(), flags=re.I)
    s = re.sub(r"^(?:just|finally|already|also|now)\s+", "", s, flags=re.I)
    words = s.split(" ", 1)
    if len(words) == 2 and (_past(words[0].lower()) or words[0].lower() in _IRREGULAR_PAST):
        s = words[1]
    s = re.sub(r"^(?:up|off|out|in|back|down|over|through|away|on)\s+", "", s, flags=re.I)
    return _ref(s)


_MARK_DONE = re.compile(r"\b(?:mark|set|flag|put|make)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:done|complete[d]?|finished|"
                        r"closed|resolved|checked(?:\s+off)?)\b", re.I)
_CHECK_OFF = re.compile(r"^(?:check|tick|cross|strike|mark)\s+(?:off\s+(?P<a>.+)|(?P<b>.+?)\s+off\b)", re.I)
_DONE_WITH = re.compile(r"^(?:i'?m\s+|i\s+am\s+|we'?re\s+)?(?:all\s+|finally\s+|just\s+)?(?:done|finished|through)"
                        r"\s+with\s+(?P<ref>.+)", re.I)
_FINISHED = re.compile(r"^(?:(?:i|we)\s*(?:'ve|have)?\s+)?(?:just\s+|finally\s+|already\s+|now\s+)?"
                       r"(?:finished|completed|did|done|ticked\s+off|checked\s+off|crossed\s+off)\s*[:\-—–]?\s+"
                       r"(?P<ref>.+)", re.I)
_DONE_TAIL = re.compile(r"^(?P<ref>.+?)\s*(?:[,:\-—–]\s*(?:all\s+)?(?:done|finished|complete[d]?|sorted)|[✅✔☑]\S*)"
                        r"[\s!.]*$", re.I)
_NOW_DUE = re.compile(r"^(?P<ref>.+?)\s+(?:(?:is|are)\s+(?:now|actually|instead)\s+due"
                      r"|(?:'s\s+)?(?:deadline|due\s+date)\s+(?:is\s+(?:now|actually)|(?:has\s+)?(?:moved|changed)\s+to"
                      r"|is\s+moving\s+to))\b", re.I)
_COMPLETE_CMD = re.compile(r"^(?:complete|close|resolve)\s+(?P<ref>.+?\b(?:task|todo|to-do|item|reminder)s?)\b", re.I)
_IS_DONE = re.compile(r"^(?P<ref>.+?)\s+(?:is|are|was|were|'s|has\s+been|have\s+been)\s+(?:all\s+|now\s+|finally\s+|"
                      r"just\s+|already\s+)?(?:done|finished|complete[d]?|sorted(?:\s+out)?|taken\s+care\s+of|"
                      r"handled|dealt\s+with|out\s+of\s+the\s+way|ticked\s+off|paid|sent(?:\s+off)?|submitted|fixed|"
                      r"renewed|filed|signed|returned|picked\s+up|mailed|posted|delivered|booked|ordered|cleaned|"
                      r"repaired|replaced|emailed|called|bought|collected|finalized|finalised|approved)\b"
                      r"(?!\s+(?:to|for|on|by))", re.I)
_PAST_LEAD = re.compile(r"^(?:(?:i|we)\s*(?:'ve|have)?\s+)?(?:(?:just|finally|already|now|also)\s+)*"
                        r"(?P<verb>[a-z]+)\s+(?P<rest>\S.*)$", re.I)
_DELETE = re.compile(r"^(?P<verb>delete|remove|scratch|drop(?!\s+(?:off|by|in|round)\b)|trash|ditch|erase|nix|bin"
                     r"|discard|cancel|kill|strike|"
                     r"scrap|axe|get\s+rid\s+of|forget(?:\s+about)?|never\s*mind(?:\s+about)?|cross\s+out|call\s+off)"
                     r"\s+(?P<ref>.+)", re.I)
_TAKE_OFF = re.compile(r"^(?:take|strike)\s+(?P<ref>.+?)\s+off\s+(?:my\s+|the\s+)?(?:list|to-?do|todo|tasks?)", re.I)
_NO_NEED = re.compile(r"^(?:i|we)\s+(?:don'?t|do\s+not|no\s+longer)\s+(?:need|have)\s+to\s+(?P<ref>.+?)"
                      r"(?:\s+any\s*more)?\W*$", re.I)
_UPDATE = re.compile(r"^(?P<verb>move|push(?:\s+back)?|postpone|reschedule|shift|bump|delay|defer|bring(?:\s+forward)?"
                     r"|pull(?:\s+forward)?|change|set|make|update|rename|retitle|put\s+off|extend|reopen|re-open"
                     r"|uncomplete|unmark)\s+(?P<rest>.+)$", re.I)
_SHIFT = re.compile(rf"\b(?P<dir>back|out|forward|ahead|earlier|later|up|by)?\s*(?:by\s+)?(?:another\s+)?"
                    rf"{tp.NUM}{tp.UNIT}\b(?:\s+(?P<dir2>later|earlier|back|forward|out|ahead))?", re.I)


def _manage(m: _Msg) -> Intent | None:
    body = m.text[m.b:].rstrip(" ?!.")
    lowb = body.lower()
    if _QWORD.match(lowb) and not lowb.startswith(("check off", "check ")):
        return None
    done_mark = bool(re.search(r"[✅✔☑]|\b(?:mark|tick|check)\s+(?:it|that|this)\s+(?:as\s+)?"
                               r"(?:done|complete[d]?|off)\b|[,\-—–]\s*(?:done|finished|complete)\W*$", m.low))
    ref: str | None = None
    found = _MARK_DONE.search(body)
    if found:
        ref = found["ref"]
        if _strip_det(ref.strip()).lower() in _PRONOUN_REF or ref.strip().lower() in _PRONOUN_REF:
            before = re.sub(r"(?:[\s,;.!-]*\b(?:you\s+can|can\s+you|could\s+you|would\s+you|please|pls|so|and|just|"
                            r"now|go\s+ahead\s+and))+[\s,;.!-]*$", "", body[max(0, found.start() - 160): found.start()],
                            flags=re.I)
            ref = _from_statement(_clauses(before)[-1]) if _clauses(before) else ""
        else:
            ref = _ref(ref)
    elif (hit := _CHECK_OFF.match(body)) is not None:
        ref = _ref(hit["a"] or hit["b"])
    elif (hit := _DONE_WITH.match(body) or _FINISHED.match(body) or _COMPLETE_CMD.match(body)) is not None:
        ref = _ref(hit["ref"])
    elif (hit := _IS_DONE.match(body)) is not None and not m.whens:
        ref = _ref(hit["ref"])
    else:
        past = _PAST_LEAD.match(body)
        taskish = re.search(r"\b(?:remind|need|have\s+to|todo|to-do|task|should|must|will|going\s+to)\b", lowb)
        ahead = any((w.day or m.now.date()) > m.now.date() or w.window for w in m.whens)
        if past and _past(past["verb"].lower()) and (done_mark or not (taskish or ahead)):
            ref = _from_statement(body)
        elif done_mark and (hit := _DONE_TAIL.match(body)) is not None:
            ref = _ref(hit["ref"])
    if ref:
        return Intent("complete_task", {"task_ref": ref})

    hit = _TAKE_OFF.match(body) or _NO_NEED.match(body)
    if hit:
        return Intent("delete_task", {"task_ref": _ref(hit["ref"])})
    hit = _DELETE.match(body)
    if hit:
        ref = _ref(hit["ref"])
        verb = hit["verb"].lower()
        if not ref or ref.lower() in _PRONOUN_REF:
            return Intent(None, reply_kind="ack") if verb.startswith(("never", "forget")) else None
        raw = hit["ref"].lower()
        future = any((w.day or m.now.date()) > m.now.date() for w in m.whens)
        if future and not _EVENT_REF.search(raw):
            return None  # "cancel the gym membership on April 1" is a thing to do
        if _EVENT_REF.search(raw) and (verb in ("cancel", "call off") or "calendar" in raw) \
                and not re.search(r"\b(?:task|todo|to-do|reminder)\b", raw):
            return Intent("cancel_event", {"event_ref": re.sub(r"\s*\b(?:from|on|in)\s+(?:my|the)\s+calendar\b", "",
                                                               ref)})
        return Intent("delete_task", {"task_ref": ref})
    return _update(m, body)


def _update(m: _Msg, body: str) -> Intent | None:
    hit = _UPDATE.match(body)
    now_due = _NOW_DUE.match(body)
    if hit:
        verb, rest = hit["verb"].lower(), hit["rest"]
        base = m.b + hit.start("rest")
    elif now_due:
        verb, rest = "move", body[now_due.start("ref"):]
        base = m.b
    else:
        return None
    args: dict[str, Any] = {}
    if verb in ("rename", "retitle") or re.match(r".*\b(?:title|name)\b.*\bto\b", rest, re.I):
        named = re.match(r"(?:the\s+)?(?:title\s+of\s+|name\s+of\s+)?(?P<ref>.+?)(?:'s\s+(?:title|name))?"
                         r"\s+(?:to|as|into)\s+(?P<title>.+)$", rest, re.I)
        if named:
            title = m.text[base + named.start("title"): base + named.end("title")].strip(" \"'")
            return Intent("update_task", {"task_ref": _ref(named["ref"]), "title": _cap(title)})
    if verb in ("reopen", "re-open", "uncomplete", "unmark"):
        return Intent("update_task", {"task_ref": _ref(rest), "status": "open"})
    about_priority = bool(re.search(r"\bpriority\b", rest, re.I))
    lead = re.match(r"(?:the\s+)?(?:priority|due\s+date|deadline|date)\s+(?:of|for|on)\s+", rest, re.I)
    if lead:
        rest, base = rest[lead.end():], base + lead.end()
    stops = [len(rest)]
    whens = m.when_after(base)
    when = next((w for w in whens if not w.rrule and (w.has_day or w.has_time or w.period)), None)
    if when is not None:
        stops.append(when.start - base)
    pri = _priority(m)
    if pri:
        args["priority"] = pri
        stops.extend(s - base for s, _ in m.cut if s >= base)
    else:
        level = re.search(r"\b(?:to|as)\s+(?P<p>low|medium|normal|high|urgent|top)(?:\s+priority)?\s*$", rest, re.I)
        if level and (about_priority or level[0].lower().endswith("priority")):
            word = level["p"].lower()
            args["priority"] = {"normal": "medium", "urgent": "high", "top": "high"}.get(word, word)
            stops.append(level.start())
    project = re.search(r"\b(?:to|into|under|in)\s+(?:the\s+)?(?:project\s+(?P<a>[\w-]+)|(?P<b>[\w-]+)\s+project)\b",
                        rest, re.I)
    if project:
        raw = m.text[base + project.start(): base + project.end()]
        name = re.sub(r"^(?:to|into|under|in)\s+(?:the\s+)?|\s*\bproject\b\s*", "", raw, flags=re.I).strip()
        args["project"] = name if any(c.isupper() for c in name) else _cap(name)
        stops.append(project.start())
    shift = _SHIFT.search(rest)
    if shift and when is None:
        n = tp.amount(shift["n"], shift["nw"])
        unit = tp.unit_name(shift["u"])
        sign = -1 if (shift["dir"] or shift["dir2"] or "").lower() in ("forward", "ahead", "earlier", "up") \
            or verb.startswith(("bring", "pull")) else 1
        if unit == "weeks":
            unit, n = "days", n * 7
        elif unit == "hours" and n != int(n):
            unit, n = "minutes", n * 60
        args["shift"] = {unit: sign * int(round(n))}
        stops.append(shift.start())
    word = re.search(r"(?:^|\s)(?:to|back|forward|out|up|until|till|by|and|due|deadline|'s\s+deadline|due\s+date|"
                     r"high|low|medium|priority)\b", rest, re.I)
    if word:
        stops.append(word.start())
    ref = _ref(rest[: min(stops)])
    if when is not None and verb in ("update", "change", "set", "make") and not re.search(
            r"\b(?:to|due|deadline|due\s+date|until|till)\s*$", rest[: when.start - base], re.I) \
            and not when.prep.startswith(("due", "until", "till")):
        return None  # "update the docs by thursday" is a new task
    if when is not None:
        value = when.point()
        is_event = bool(_EVENT_REF.search(ref.lower())) and when.has_time
        if is_event:
            args = {"event_ref": ref}
            span = when.range() if when.has_time else None
            args["start"] = _iso(span[0] if span else value)
            if span and when.until is not None:
                args["end"] = _iso(span[1])
            return Intent("update_event", args)
        if re.search(r"\bremind(?:er)?\b", body, re.I):
            args["remind_at"] = _iso(_remind_value(value, m.now))
        else:
            args["due"] = _iso(value)
    if not args or not ref:
        return None
    args["task_ref"] = ref
    return Intent("update_task", args)


def _remind_value(value: dt.date | dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """A reminder moment: a day alone means 09:00 that day (or the next hour, if that has passed)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    moment = tp.at(value, dt.time(9, 0), now.tzinfo)
    if moment <= now:
        moment = (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return moment


# ---------------------------------------------------------------- questions

_TASKS_Q = re.compile(r"\b(?:tasks?|todos?|to-?dos?|to\s+do\s+list|overdue|past\s+due|due|on\s+my\s+plate|my\s+list"
                      r"|reminders?|(?:have|need|got)\s+to\s+do|should\s+i\s+do|left\s+to\s+do|to\s+do\s+(?:today|"
                      r"tomorrow|this|next)|what\s+do\s+i\s+(?:still\s+)?(?:have|need)\s+to|project|what'?s\s+left"
                      r"|(?:have|did)\s+i\s+(?:finished|completed|done|finish|complete|do|ticked\s+off))\b")
_AVAIL_Q = re.compile(r"\b(?:free|available|availability|open|clear|busy|gaps?|slots?|openings?|booked\s+up"
                      r"|do\s+i\s+have\s+time|have\s+time|any\s+time|squeeze|fit\s+(?:in|it)|conflicts?|clash|room\s+for|is\s+there\s+time|make\s+it)\b")
_EVENTS_Q = re.compile(r"\b(?:calendar|schedule|agenda|diary|meetings|meeting|appointments?|events?|plans|planned|"
                       r"happening|going\s+on|am\s+i\s+doing|do\s+i\s+have\s+(?:anything|something|stuff|much)|"
                       r"what(?:'s|\s+is)\s+(?:on|up|next)|what\s+do\s+i\s+have\b|anything\s+(?:on|planned|"
                       r"scheduled|booked)|what\s+have\s+i\s+got|look(?:s|ing)?\s+like|coming\s+up|upcoming"
                       r"|what'?s\s+next)\b")
_GENERAL_Q = re.compile(
    r"\b(?:tallest|highest|biggest|largest|smallest|longest|deepest|fastest|oldest|capital\s+of|population|"
    r"president|prime\s+minister|who\s+(?:invented|discovered|wrote|painted|won|sang|directed)|how\s+many|how\s+far|"
    r"how\s+tall|how\s+big|weather|forecast|temperature|meaning\s+of\s+(?:life|the\s+word)|define|definition|"
    r"translate|recipe|joke|poem|news|stock|price\s+of|exchange\s+rate|convert|square\s+root|calculate|in\s+the\s+world|"
    r"on\s+earth|planet|universe|history\s+of|what\s+year|speed\s+of|score|who\s+is\s+the|what\s+time\s+is\s+it|"
    r"what\s+day\s+is\s+it|what'?s\s+the\s+date|how\s+do\s+(?:you|i)\s+(?:make|cook|say|spell)|why\s+is\s+the|"
    r"ocean|mountain|river|country|continent|africa|europe|asia|america|australia|antarctica)\b")
_PERSONAL = re.compile(r"\b(?:my|mine|our|ours|i|i'm|i've|i'd|me|we|us|myself|again)\b")


def _question(m: _Msg) -> Intent | None:
    body = m.body
    if _REQUEST_IN.search(body):
        return None
    if re.match(r"remind\s+me\s+(?:what|when|where|who|which|how|of)\b", body):
        query = _query(m)
        return Intent("search_memory", {"query": query}) if query else None
    lead = _lead_word(body)
    command = (_chore(lead) or lead in _COMMANDS) and not _QWORD.match(body)
    asking = (body.rstrip().endswith("?") and not command) or bool(_QWORD.match(body)) or bool(
        re.match(r"(?:anything|something|what|(?:my\s+|the\s+|all\s+|open\s+|today'?s\s+)*(?:tasks|todos|to-?dos"
                 r"|events|meetings|appointments)|(?:my|the|today'?s|tomorrow'?s)\s+(?:schedule|calendar|agenda|"
                 r"to-?do\s+list|todo\s+list|to-?dos?))\b", body))
    if not asking:
        return None
    if _TASKS_Q.search(body) and not re.search(r"\bcalendar\b", body):
        return _list_tasks(m)
    if _AVAIL_Q.search(body) and not re.search(r"\b(?:tasks?|todos?)\b", body):
        return _availability(m)
    if _EVENTS_Q.search(body):
        return _list_events(m)
    if _general(body):
        return Intent(None, reply_kind="out_of_scope")
    query = _query(m)
    return Intent("search_memory", {"query": query}) if query else Intent(None, reply_kind="unknown")


_COMMANDS = {"add", "put", "schedule", "set", "create", "book", "remind", "move", "make", "mark", "delete", "remove",
             "change", "cancel", "note", "remember", "pencil", "block", "save", "push", "postpone", "rename",
             "reschedule", "update", "tick", "cross", "plan", "arrange", "organise", "organize", "ping", "nudge"}
_REQUEST_IN = re.compile(r"\b(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:add|put|schedule|set|create|book"
                         r"|remind|move|make|mark|delete|remove|change|cancel|note|remember|pencil|block|save)\b")


def _general(body: str) -> bool:
    """A question about the world, not about the user's own life."""
    if re.search(r"\d\s*(?:[-+*/x×÷^]|times|plus|minus|divided\s+by|to\s+the\s+power)\s*\d", body):
        return True
    mine = re.sub(r"\b(?:tell|give|show)\s+me\b|\b(?:do|can|could)\s+you\s+(?:know|tell\s+me)\b", " ", body)
    return bool(_GENERAL_Q.search(body)) and not _PERSONAL.search(mine)


def _primary(m: _Msg) -> tp.When | None:
    """The time the message asks about: its first date, joined with a time said elsewhere."""
    useful = [w for w in m.whens if w.has_day or w.has_time or w.period or w.window]
    if not useful:
        return None
    first = useful[0]
    if not first.has_time:
        other = next((w for w in useful[1:] if w.has_time and not w.has_day), None)
        if other is not None:
            return tp.When.of(m.now, first.mentions + other.mentions)
    elif not first.has_day:
        other = next((w for w in useful[1:] if w.has_day and not w.has_time), None)
        if other is not None:
            return tp.When.of(m.now, other.mentions + first.mentions)
    return first


def _period_in(m: _Msg) -> str | None:
    hit = re.search(r"\b(morning|afternoon|evening|tonight|night|lunch(?:time)?)\b", m.body)
    if not hit:
        return None
    word = hit[1]
    return "night" if word == "tonight" else "lunch" if word.startswith("lunch") else word


def _window(m: _Msg, default_days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    tz, today = m.now.tzinfo, m.now.date()
    when = _primary(m)
    span = when.range() if when is not None else None
    period = _period_in(m)
    if when is None or (not when.has_time and not when.period and period):
        day = (when.day if when is not None else None) or today
        if when is not None and when.window and not when.day:
            day = when.window[0]
        if period == "lunch":
            return tp.at(day, dt.time(12), tz), tp.at(day, dt.time(14), tz)
        if period:
            lo, hi = tp.PERIOD_SPAN[period]
            return tp.at(day, dt.time(lo), tz), tp.at(day + dt.timedelta(days=hi // 24), dt.time(hi % 24), tz)
    if span is not None:
        return span
    return tp.day_start(today, tz), tp.day_start(today + dt.timedelta(days=default_days), tz)


def _availability(m: _Msg) -> Intent:
    start, end = _window(m)
    return Intent("check_availability", {"start": _iso(start), "end": _iso(end)})


def _list_events(m: _Msg) -> Intent:
    when = _primary(m)
    days = 1 if when is not None or re.search(r"\btoday\b|\bleft\b", m.body) else 7
    start, end = _window(m, days)
    return Intent("list_events", {"start": _iso(start), "end": _iso(end)})


def _list_tasks(m: _Msg) -> Intent:
    body = m.body
    args: dict[str, Any] = {"status": "open"}
    if re.search(r"\b(?:did\s+i\s+(?:finish|complete|do)|(?:done|completed|finished|ticked\s+off|checked\s+off)"
                 r"(?:\s+(?:tasks|todos|items))?\b)", body) and not re.search(r"\bnot\s+(?:done|finished)", body):
        args["status"] = "done"
    if re.search(r"\b(?:all|every)\s+(?:of\s+)?(?:my\s+)?(?:tasks|todos|to-?dos)\s+(?:including|incl|even)\b"
                 r"|\bdone\s+(?:and|or)\s+(?:open|not)\b|\bopen\s+(?:and|or)\s+(?:done|closed)", body):
        args["status"] = "all"
    project = _project(m, m.b)
    if project is None:
        named = re.search(r"\b(?:tasks|todos|to-?dos|list|items)\s+(?:for|in|on|under)\s+(?:the\s+)?"
                          r"(?P<name>[A-Z][\w-]*)", m.text[m.b:])
        if named:
            project = named["name"]
    if project is None:
        mine = re.search(r"\b(?:my|the)\s+(?P<name>[\w-]+)\s+(?:tasks|todos|to-?dos|list)\b", m.text[m.b:], re.I)
        if mine and mine["name"].lower() not in {"open", "done", "completed", "overdue", "urgent", "all", "current",
                                                 "pending", "remaining", "outstanding", "today's", "upcoming",
                                                 "important", "other", "to-do", "todo", "to", "daily", "weekly",
                                                 "new", "old", "finished", "unfinished", "priority", "high", "low"}:
            project = _cap(mine["name"]) if mine["name"].islower() else mine["name"]
    if project:
        args["project"] = project
    if re.search(r"\b(?:overdue|past\s+due|late|missed|behind)\b", body):
        args["due_before"] = _iso(m.now)
    else:
        when = _primary(m)
        span = when.range() if when is not None else None
        today_only = span is not None and span[0].date() == m.now.date() and span[1] - span[0] <= dt.timedelta(days=1)
        if span is not None and not (today_only and not re.search(r"\bdue\b", body)):
            args["due_before"] = _iso(span[1])
            if span[0].date() > m.now.date():
                args["due_after"] = _iso(span[0])
    about = re.search(r"\b(?:about|regarding|mentioning|related\s+to|containing|involving)\s+(?P<q>.+?)\W*$", body)
    if about:
        args["query"] = about["q"]
    return Intent("list_tasks", args)


_Q_STOP = set((
    "what what's whats when when's where where's who who's whom whose which why how how's is are am was were do does "
    "did have has had can could would should will shall the a an of for to in on at by my our your me i we you it "
    "its it's again exactly remind tell know please anyone there any some about that this these those with from "
    "be been get got remember said told say mentioned ever again? actually again, think recall tell me do you "
    "know if was again is's s").split())
_SYNONYMS = {
    "wifi": "password network", "code": "password pin number", "pin": "code password", "password": "code",
    "birthday": "born bday", "bday": "birthday", "sick": "vet doctor", "ill": "doctor vet", "vet": "animal",
    "reception": "front desk", "phone": "number", "number": "phone", "restrictions": "eat allergic diet",
    "food": "eat diet allergic vegetarian vegan", "allergies": "allergic", "allergy": "allergic",
    "key": "keys spare", "park": "parked level spot", "parking": "parked level spot", "hide": "under",
    "hid": "under", "parked": "level spot", "car": "parked",
    "address": "lives street", "live": "address", "doctor": "dr", "dentist": "dr", "anniversary": "married",
    "locker": "number", "combination": "code lock", "work": "office", "office": "work",
}


def _query(m: _Msg) -> str:
    words = re.findall(r"[\w'-]+", m.text[m.b:].lower())
    keep = [w for w in words if w not in _Q_STOP and not (len(w) < 2 and not w.isdigit())]
    extra: list[str] = []
    for w in keep:
        for s in _SYNONYMS.get(w.removesuffix("'s"), "").split():
            if s not in keep and s not in extra:
                extra.append(s)
    return " ".join(keep + extra).strip()


# ---------------------------------------------------------------- new tasks and events

_TASK_MARK = re.compile(
    r"(?:^note\s+to\s+self\s*[:\-—–]?\s*|(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?"
    r"(?:add|create|make|put|set|save|log|jot\s+down|write\s+down|note\s+down|new)\s+(?:(?:a|an|the|another|one|this|that)\s+)?(?:new\s+)?(?:task|todo|to-do|"
    r"to\s+do|reminder|item|action\s+item)s?(?:\s+(?:for\s+me|to\s+my\s+list|on\s+my\s+list))?"
    r"(?:\s*(?::|-|—|–|to|that\s+says|saying|called|for|about)\s*|\s+)|^(?:new\s+)?(?:task|todo|to-do|reminder)\s*"
    r"[:\-—–]\s*)")
_LIST_ADD = re.compile(r"^(?:add|put|stick|throw)\s+(?P<q>['\"])?(?P<content>.+?)(?P=q)?\s+(?:to|on|onto|in)\s+"
                       r"(?:my|the)\s+(?:to-?do|todo|to\s+do|task|(?P<shop>shopping|grocery|groceries))?\s*list\b")
_THAT_MARK = re.compile(
    r"(?:[,;.]\s*)?(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:add|put|make|save|set|turn|create|"
    r"schedule|pencil|book|block)\s+(?:that|this|it)\s*(?:(?:as|on|to|in|into|onto)\s+(?:an?\s+|my\s+|the\s+)?"
    r"(?P<what>task|todo|to-do|reminder|to-?do\s+list|list|calendar|diary|agenda)s?\b|(?P<in>in\b))?")
_REMIND = re.compile(r"\b(?:remind|ping|nudge|alert)\s+me\b|\bset\s+(?:a|an|me\s+a)\s+reminder\b|\breminder\b"
                     r"|\bdon'?t\s+let\s+me\s+forget\b")
_NEED = re.compile(r"^(?:(?:i|we)\s+)?(?:really\s+|still\s+|also\s+|definitely\s+)?(?:(?:need|have|got|ought|'ve\s+got"
                   r"|have\s+got|want)\s+to|must|should|gotta)\s+(?=\w)|^(?:remember|don'?t\s+forget|do\s+not\s+"
                   r"forget|make\s+sure)\s+(?:to|i|that\s+i)\s+|^(?:(?:i|we)\s+)?(?:must|should)\s+")
_BARE_ADD = re.compile(r"^(?:add\b\s*[:\-—–]?\s*|(?:new|todo|to-do|task)\s*[:\-—–]\s*)(?!to\s+(?:my|the)\s+calendar)")
_CAL_WORD = re.compile(r"\b(?:calendar|diary|pencil\s+(?:in|it|that|me)|block\s+(?:out|off|some)|invite)\b|^block\b")
_SCHEDULE_LEAD = re.compile(r"^(?:schedule|set\s+up)\b|^(?:arrange|organi[sz]e|plan|book|have|grab|host|throw)\s+"
                            r"(?:(?:a|an|the|my|our|another)\s+)?(?:[\w'-]+\s+){0,3}?(?:meeting|call|appointment|"
                            r"dinner|lunch|breakfast|brunch|coffee|drinks|sync|session|interview|party|review|chat|"
                            r"catch-?up|1:1|demo|workshop|webinar|standup|haircut|check-?up|massage|consultation|"
                            r"viewing|date|playdate|bbq|barbecue|celebration|get-together)\b")
_EVENT_LEAD = re.compile(
    r"^(?:(?:please|pls)\s+)?(?:(?:can|could|would)\s+you\s+)?(?:(?:add|put|schedule|set\s+up|create|arrange|"
    r"organi[sz]e|pencil\s+in|block(?:\s+(?:out|off))?|plan|enter|host|throw|new\s+event|event)\b"
    r"|(?:have|grab|get)(?=\s+(?:a\s+|an\s+|some\s+)?(?:call|lunch|dinner|breakfast|brunch|coffee|drinks|meeting"
    r"|chat|catch-?up|bite|beer)\b)"
    r"|book(?=\s+(?:a|an|the|my|in|me|dinner|lunch|breakfast|brunch|drinks|coffee)\b))"
    r"\s*(?:me\s+)?(?:in\s+)?(?:an?\s+event\s+(?:for|called|:)?\s*)?:?\s*", re.I)
_CAL_PHRASE = re.compile(r"\s*\b(?:to|in|on|into|onto)\s+(?:my|the|our)\s+(?:calendar|diary|agenda|schedule)\b\s*:?"
                         r"|^(?:to\s+)?(?:my\s+)?(?:calendar|diary)\s*:\s*|\bfor\s+me\b", re.I)
_MEETING = re.compile(r"^(?i:i'?m|i\s+am|we'?re|we\s+are)\s+(?i:meeting|seeing|meeting\s+up\s+with)\s+"
                      r"(?P<who>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)(?:\s+(?:for|at)\s+(?P<what>.+))?$")
_HAVE_LEAD = re.compile(r"^(?:i\s+have|i'?ve\s+got|i\s+got|i'?m\s+having|we'?re\s+having|we\s+have|there'?s|there\s+is"
                        r"|i'?m\s+going\s+to|i'?m\s+going|going\s+to|i'?ll\s+be\s+at|i\s+need|remember\s+i\s+have"
                        r"|i\s+have\s+to\s+go\s+to|i'?ve\s+booked)\s+(?:a\s+|an\s+|the\s+|my\s+)?", re.I)
_WANTS = re.compile(r"^(?P<who>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?|(?i:my|our)\s+[a-z]+)"
                    r"(?:\s+from\s+[\w-]+(?:\s+[\w-]+)?)?\s+(?:wants|would\s+like|needs|asked|asks|is\s+asking|has\s+asked|invited\s+me)\s+(?:me\s+)?to\s+(?P<vp>.+?)"
                    r"(?:\s+with\s+(?:me|us))?$")
_LOCATION = re.compile(r"\b(?P<prep>at|in)\s+(?P<loc>(?:(?:the|their|his|her|my|our|a|an)\s+)?[^\x00,;!?()]{1,80}?)"
                       r"\s*(?=$|\x00|[,;!?()]|\s+(?:with|for|to|from|about|on|and\s+then|because|re|regarding"
                       r"|(?:in|into|on|onto|to)\s+(?:my|the)\s+(?:calendar|diary|agenda|schedule))\b)")
_NOT_LOCATION = re.compile(r"^(?:(?:my|the|our)\s+(?:calendar|diary|agenda|schedule)|person|advance|total|time|"
                           r"(?:the\s+)?(?:morning|afternoon|evening|night)|least|all|once|some\s+point|the\s+moment|"
                           r"(?:a|an)\s+(?:hour|minute|bit|sec|while)|my\s+calender|\w+\s+project|mind|case|"
                           r"the\s+(?:end|start|beginning)|that|this|it|general|full|person)\b", re.I)


_DEADLINE = ("by", "due", "before", "until", "no later", "deadline")  # prepositions that make a time a due date


def _chore(word: str) -> bool:
    return word in _CHORE_VERBS


def _lead_word(text: str) -> str:
    w = re.match(r"[a-z'-]+", text)
    return w[0] if w else ""


def _decide(m: _Msg, content_low: str) -> str | None:
    """ "event", "task", or None when the message is no request at all."""
    body = m.body
    timed = any(w.has_day or w.has_time or w.period or w.rrule for w in m.whens)
    recur = any(w.rrule for w in m.whens)
    deadline = any(w.prep.startswith(_DEADLINE) and w.prep != "until" for w in m.whens)
    if re.search(r"\b(?:task|todo|to-do|to\s+do\s+list|todo\s+list)\b", body) or _REMIND.search(body) or \
            _NEED.match(content_low) or _NEED.match(body) or re.match(r"(?:remember|don'?t\s+forget)\s+to\b", body) \
            or (deadline and not _CAL_WORD.search(body)):
        return "task"
    lead = _lead_word(content_low)
    chore = _chore(lead) and not _EVENT_NOUN.match(content_low, len(lead) + 1) and not _EVENT_VERBS.match(content_low)
    if _CAL_WORD.search(body) or _SCHEDULE_LEAD.match(content_low) or (recur and not chore) or \
            re.search(r"\bput\s+(?:that|this|it)\s+in\b", body):
        return "event" if timed else "task"
    if _EVENT_VERBS.match(content_low) and timed:
        return "event"
    if lead == "call" and re.match(r"call\s+with\b", content_low):
        return "event" if timed else "task"
    if chore:
        return "task"
    if _EVENT_NOUN.search(content_low) and timed:
        return "event"
    if re.search(r"\bwith\s+[A-Z]", m.text[m.b:]) and any(w.has_time for w in m.whens):
        return "event"
    if timed or _chore(lead.removesuffix("s")) or _VERBISH.match(content_low):
        return "task"
    return None


_VERBISH = re.compile(r"^(?:re|un|pre)?(?:[a-z]+ate|[a-z]+ify|[a-z]+ise|[a-z]+ize)\b")


def _content(m: _Msg) -> tuple[int, int, str]:
    """Where the thing to do is said: (start, end, context before it for pronouns)."""
    body, b = m.body, m.b
    hi = len(m.text)
    that = _THAT_MARK.search(body)
    if that and that.start() > 0 and (that["what"] or that["in"]):
        before = body[: that.start()]
        clauses = _clauses(before)
        last = clauses[-1] if clauses else before
        lo = b + before.rfind(last)
        return lo, b + that.start(), ""
    hit = _LIST_ADD.match(body)
    if hit:
        return b + hit.start("content"), b + hit.end("content"), ""
    hit = _TASK_MARK.search(body)
    if hit:
        return b + hit.end(), hi, m.text[b: b + hit.start()]
    hit = _REMIND.search(body)
    if hit and hit.start() < 3:
        return b + hit.end(), hi, ""
    hit = _NEED.match(body) or _BARE_ADD.match(body)
    if hit:
        return b + hit.end(), hi, ""
    return b, hi, ""


def _create(m: _Msg) -> Intent:
    lo, hi, context = _content(m)
    _priority(m), _project(m)  # so that their words do not decide the kind
    content = _clean(_piece(m, lo, hi)).lower()
    content = re.sub(r"^(?:add|put|create|set|enter|log|stick|throw\s+in|new)\s+(?!(?:it|that|this)\b)", "", content)
    listed = _LIST_ADD.match(m.body)
    kind = "task" if listed else _decide(m, content)
    if kind is None:
        kind = _decide(m, _strip_lead_times(m, lo, hi))
    m.cut = []
    if kind == "event":
        return _create_event(m, lo, hi)
    if kind == "task":
        made = _create_task(m, lo, hi, context)
        if listed and listed["shop"] and not _chore(_lead_word(made.args["title"].lower())):
            made.args["title"] = "Buy " + made.args["title"][:1].lower() + made.args["title"][1:]
        return made
    if _general(m.body) or re.search(r"\b(?:joke|poem|story|song|weather)\b", m.body):
        return Intent(None, reply_kind="out_of_scope")
    return Intent(None, reply_kind="unknown")


def _strip_lead_times(m: _Msg, lo: int, hi: int) -> str:
    pos = lo
    for w in m.whens:
        if w.start <= pos + 1 and w.end > pos:
            pos = w.end
    return m.low[pos:hi].lstrip(" ,:-")


def _create_task(m: _Msg, lo: int, hi: int, context: str) -> Intent:
    args: dict[str, Any] = {}
    priority = _priority(m)
    project = _project(m, loose=True)
    remind = _REMIND.search(m.low)
    whens = [w for w in m.whens if not w.rrule and (w.has_day or w.has_time or w.period or w.window)]
    due_when: tp.When | None = None
    remind_when: tp.When | None = None
    if remind:
        after = [w for w in whens if 0 <= w.start - remind.end() <= 2]
        remind_when = after[0] if after else (whens[-1] if whens else None)
        others = [w for w in whens if w is not remind_when]
        due_when = next((w for w in others if w.prep.startswith(_DEADLINE)), None)
    elif whens:
        strong = [w for w in whens if w.prep.startswith((*_DEADLINE, "for"))]
        due_when = strong[0] if strong else whens[-1]
    for w in (due_when, remind_when):
        if w is not None:
            m.cut.extend(w.spans)
    if remind_when is not None:
        value = remind_when.point() if not remind_when.window or remind_when.day else None
        args["remind_at"] = _iso(_remind_value(value, m.now))
        if remind_when.clock() is None and remind_when.moment is None and value is not None:
            args["due"] = _iso(value)
        elif remind_when.prep.startswith(("by", "due", "before")):
            args["due"] = _iso(value)
    if due_when is not None:
        args["due"] = _iso(due_when.point())
    rule = next((w for w in m.whens if w.rrule), None)
    if rule is not None and due_when is None and remind_when is None:
        # tasks have no repeat rule: the first time it falls due, and the rule said in the notes
        first = rule.first()
        args["remind_at" if remind else "due"] = _iso(_remind_value(first, m.now) if remind else first)
        args["notes"] = "Repeats " + _clean(m.text[rule.start:rule.end])
        m.cut.extend(rule.spans)
    if remind:
        m.cut.append(remind.span())
    title = _title(m, lo, hi, context)
    if not title:
        title = _cap(_clean(_piece(m, m.b, len(m.text)))) or "Task"
    args = {"title": title, **{k: v for k, v in args.items() if v is not None}}
    if priority:
        args["priority"] = priority
    if project:
        args["project"] = project
    return Intent("create_task", args)


def _title(m: _Msg, lo: int, hi: int, context: str) -> str:
    raw = _piece(m, lo, hi)
    if context:
        raw = _resolve_pronoun(raw, context)
    raw = re.sub(r"^(?:(?:to|about|that|for)\s+)+", "", _clean(raw), flags=re.I)
    raw = _statement_to_task(raw)
    raw = re.sub(r"^(?:me\s+)?(?:to|about)\s+", "", raw, flags=re.I)
    raw = re.sub(r"\s*\b(?:to|on|onto)\s+(?:my|the)\s+(?:to-?do|todo|task)?\s*list\b", "", raw, flags=re.I)
    raw = re.sub(r"\b(?:as\s+a\s+(?:task|todo|to-do))\b", "", raw, flags=re.I)
    return _cap(_clean(raw))


def _create_event(m: _Msg, lo: int, hi: int) -> Intent:
    args: dict[str, Any] = {}
    whens = m.whens
    rule_when = max((w for w in whens if w.rrule), key=lambda w: len(w.rrule or ""), default=None)
    when = _primary(m)
    if rule_when is not None:
        joined = list(rule_when.mentions)
        if not rule_when.has_time and when is not None and when is not rule_when and when.has_time:
            joined += [x for x in when.mentions if x.kind in ("time", "range", "duration")]
        when = tp.When.of(m.now, joined)
    length = next((x.length for w in whens for x in w.mentions if x.length), None)
    for w in whens:  # every time phrase, duration and repeat is said by the fields, not the title
        if w.rrule or w is when or (when is not None and set(w.spans) & set(when.spans)) \
                or w.kinds <= {"duration"} or (when is not None and (w.has_day or w.has_time)):
            m.cut.extend(w.spans)
    if when is None:
        return _create_task(m, lo, hi, "")
    if when.rrule:
        first = when.first()
        args["recurrence"] = when.rrule
    else:
        first = when.point()
    if first is None:
        return _create_task(m, lo, hi, "")
    if isinstance(first, dt.datetime) and when.time is None and when.moment is None and when.period \
            and not when.rrule:  # "block out friday afternoon": the whole part of the day
        span = when.range()
        assert span is not None
        args["start"], args["end"] = _iso(span[0]), _iso(span[1])
    elif isinstance(first, dt.datetime):
        args["start"] = _iso(first)
        span = when.range(default=length or dt.timedelta(hours=1))
        end = first + (span[1] - span[0]) if span else first + dt.timedelta(hours=1)
        if length and when.until is None:
            end = first + length
        args["end"] = _iso(end)
    else:
        args["start"] = _iso(first)
    title, location, attendees = _event_title(m, lo, hi)
    result = {"title": title or "Event", **args}
    if location:
        result["location"] = location
    if attendees:
        result["attendees"] = attendees
    return Intent("create_event", result)


def _event_title(m: _Msg, lo: int, hi: int) -> tuple[str, str | None, list[str]]:
    masked = list(m.text)
    for s, e in m.cut:
        for i in range(s, min(e, len(masked))):
            masked[i] = "\x00"
    masked_text = "".join(masked)
    location = None
    for hit in _LOCATION.finditer(masked_text, lo, hi):
        loc = hit["loc"].strip()
        if _NOT_LOCATION.match(loc) or "\x00" in loc or not loc:
            continue
        if hit["prep"].lower() == "in" and not re.match(r"(?:the\s|[A-Z0-9])", loc) and not re.search(
                r"\b(?:room|suite|office|building|hall|floor|cafe|café|restaurant|studio|library|lobby|kitchen"
                r"|park|center|centre|clinic)\b", loc, re.I):
            continue
        location = _clean(loc) or None
        m.cut.append(hit.span())
        break
    raw = _piece(m, lo, hi)
    attendees: list[str] = []
    wants = _WANTS.match(_clean(raw))
    meeting = _MEETING.match(_clean(raw))
    if wants:
        vp = re.sub(r"^(?:have|grab|get|do|go\s+for)\s+(?:a\s+|an\s+|some\s+)?", "", wants["vp"], flags=re.I)
        raw = f"{vp} with {wants['who']}"
        if wants["who"][0].isupper() and wants["who"].split()[0].lower() not in ("my", "our"):
            attendees.append(wants["who"])
    elif meeting:
        raw = f"{meeting['what']} with {meeting['who']}" if meeting["what"] else f"Meeting with {meeting['who']}"
        attendees.append(meeting["who"])
    raw = _HAVE_LEAD.sub("", _clean(raw))
    raw = _CAL_PHRASE.sub(" ", raw)
    raw = _EVENT_LEAD.sub("", _clean(raw))
    raw = _CAL_PHRASE.sub(" ", raw)
    raw = re.sub(r"^(?:to|for|an?\s+event)\s+", "", _clean(raw), flags=re.I)
    raw = re.sub(r"^(?:a|an|the|my|our)\s+(?=[a-z])", "", _clean(raw))
    for who in re.finditer(r"\b(?:with|meet|meeting|see|and)\s+(?:the\s+)?(?P<name>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)?)"
                           r"(?![\w'-])(?!\s+(?!from\b|at\b|on\b|in\b|to\b|for\b|about\b|and\b|re\b)[a-z])", raw):
        name = who["name"]
        if name not in attendees and name.split()[0] not in ("I", "Me", "My", "The", "Zoom", "Teams"):
            attendees.append(name)
    return _cap(_clean(raw)), location, attendees


# ---------------------------------------------------------------- entry point

def parse_message(text: str, now: dt.datetime) -> Intent:
    """Understand one chat message at `now` (aware, in the user's zone) as one tool call or reply kind."""
    clean = normalise(text or "")
    if not clean:
        return Intent(None, reply_kind="unknown")
    low = tp.lower(clean)
    m = _Msg(clean, low, now, [])
    social = _social(m)
    if social is not None:
        return social
    lead = _LEAD_RE.match(low)
    b = lead.end() if lead else 0
    ask = _ASK_RE.match(low, b)
    while ask and ask.end() > b:
        b = ask.end()
        lead = _LEAD_RE.match(low, b)
        b = lead.end() if lead else b
        ask = _ASK_RE.match(low, b)
    m.b = b
    if _HELP_RE.fullmatch(m.body.strip()):
        return Intent(None, reply_kind="help")
    m.whens = tp.find(clean, now)
    remembered = _remember(m)
    if remembered is not None:
        return remembered
    if any("invalid" in w.kinds for w in m.whens):
        return Intent(None, reply_kind="unknown")  # "February 30": better to ask again than to guess
    for step in (_manage, _question):
        found = step(m)
        if found is not None:
            return found
        m.cut = []
    return _create(m)
