"""Word lists of the offline brain's understanding: typos, social talk, priorities, verbs, event nouns."""

from __future__ import annotations

import re

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



_GREET = (r"(?:hi+|hello+|hey+|heya|hiya|howdy|yo|hallo|greetings|good\s+(?:morning|afternoon|evening|day)"
          r"|how\s+are\s+(?:you|u|things)(?:\s+doing)?(?:\s+today)?|how'?s\s+it\s+going|how\s+is\s+it\s+going"
          r"|what'?s\s+new|how\s+have\s+you\s+been|how\s+do\s+you\s+do|nice\s+to\s+meet\s+you"
          r"|morning|evening|afternoon|gm|sup|what'?s\s+up|wassup|hey\s+there|hi\s+there)")
_THANKS = (r"(?:thanks?(?:\s+(?:you|so\s+much|a\s+lot|a\s+bunch|again|loads|heaps|much))*|cheers|many\s+thanks"
           r"|much\s+appreciated|appreciate\s+(?:it|that|you|this)|thank\s+u|you'?re\s+(?:a\s+|the\s+)?"
           r"(?:lifesaver|life\s+saver|best|awesome|amazing|great|star|gem|legend|hero)|(?:you\s+)?rock"
           r"|lifesaver|legend|great\s+job|good\s+job|nice\s+one|well\s+done|ty)")
_BYE = (r"(?:bye+|bye\s+bye|goodbye|see\s+(?:you|ya)(?:\s+(?:later|tomorrow|soon))?|later|ttyl|good\s*night|night|gn"
        r"|nighty\s+night)")
_ACK = (r"(?:ok(?:ay)?|k+|kk|cool|great|nice|good|fine|alright|all\s+right|sure|got\s+it|sounds\s+good|perfect"
        r"|awesome|yes|yeah|yep|yup|no|nope|nah|right|understood|noted|will\s+do|lol|haha+|hmm+|ah+|oh+|wow"
        r"|sweet|excellent|np|no\s+problem|no\s+worries|never\s*mind|nvm|bye|goodbye|see\s+you|later|ttyl"
        r"|good\s+night|night|gn)")
_NAME = r"(?:pixie|bot|there|buddy|friend|mate|again)"
_SOCIAL_WORD = rf"(?:{_GREET}|{_THANKS}|{_BYE}|{_ACK})(?:\s+{_NAME})*"
_SOCIAL_SEP = r"[\s!.,;:?~)(\-]"
# social words only, each piece apart from the next (so "kkkk" cannot be split many ways)
_SOCIAL_RE = re.compile(rf"{_SOCIAL_SEP}*{_SOCIAL_WORD}(?:{_SOCIAL_SEP}+{_SOCIAL_WORD})*{_SOCIAL_SEP}*")
_LEAD_RE = re.compile(
    rf"(?:(?:{_GREET}|{_THANKS}|ok(?:ay)?|so|also|and|oh|um+|uh+|ugh+|well|btw|by\s+the\s+way|quick\s+one"
    r"|quick\s+question|actually|hmm+|right|alright|pixie|please|kindly|just|hey\s+pixie)(?:\s+pixie)?\b"
    r"[\s,:;!.\-—–]*)+")
_ASK_RE = re.compile(r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+|kindly\s+|also\s+|just\s+|quickly\s+)*"
                     r"|(?:i'?d\s+like\s+you\s+to|i\s+want\s+you\s+to|i\s+need\s+you\s+to|i\s+would\s+like\s+you\s+to"
                     r"|would\s+you\s+mind|please|pls)\s+"
                     # "can we move the vet to 3?" asks for the move ("can we meet at 3?" is left as said)
                     r"|(?:can|could)\s+we\s+(?=(?:move|push|shift|bring|reschedule|postpone|delay|cancel|change)\b))")
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
    "left went knew sat stood kept hit cut shut lit quit gone expected hoped wished agreed promised "
    # how something turned out or was lived, not a chore done: news ("we won the quiz", "met Jo for lunch")
    "won lost enjoyed celebrated watched visited arrived landed survived passed failed met loved").split())
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



_PUNCT = " \t,;:.!?-—–'\"“”("
_LEAD_WORDS = {"to", "that", "and", "then", "also", "please", "just", "so", "but", "or", "about", "for", "of", "is"}
_TAIL_WORDS = set((
    "and then please thanks so but or to for on at by in due from with the a an it is are which that as of because "
    "cause cuz ok okay pls asap lol lmao haha hahaha thx ty plz fyi tbh btw").split())
