"""Understanding memory: facts to remember, things to forget, news told in passing, and questions to search by."""

from __future__ import annotations

import re

from core.intents import Intent
from core.nlu_text import _cap, _chore, _lead_word, _Msg
from core.nlu_words import _EVENT_NOUN, _EVENT_REF, _QWORD

_STORE_LEAD = re.compile(
    r"^(?:(?:please|also|and|btw|oh)\s+)*(?:(?P<self>note\s+to\s+self|don'?t\s+forget(?!\s+that))"
    r"|(?:remember|re?m+e?m?e?b+e?r|rememebr|remembr|memori[sz]e|note|(?:keep|bear)\s+in\s+mind|make\s+a\s+note|take\s+(?:a\s+)?note|save|store|jot\s+down|write\s+down|don'?t\s+forget|do\s+not\s+forget|log)"
    r"(?:\s+(?:of\s+)?(?:that|this))?(?:\s+for\s+(?:later|me|the\s+future))?|fyi|f\.y\.i\.?|for\s+the\s+record|"
    r"(?:just\s+)?(?:so\s+)?you\s+know|for\s+(?:future\s+)?ref(?:erence|\.)?|heads\s+up)\b\s*[:,\-—–]?\s*"
    # "fyi, keep in mind that …": a second lead-in, said with "that"
    r"(?:(?:please\s+)?(?:keep|bear)\s+in\s+mind\s+that\b\s*|(?:please\s+)?(?:remember|note|don'?t\s+forget)\s+that\b\s*)?")
# a date a thing has, said of it ("passport expires 14 August 2027", "the lease ends on 31 May")
_DATED_FACT = re.compile(r"(?P<subj>(?:[\w'-]+\s+){0,3}?[\w'-]+)\s+(?:expires?|ends?|renews?|runs\s+out|is\s+valid"
                         r"|(?:is|are)\s+due\s+for\s+renewal)\b")


def _dated_fact(m: _Msg, rest: str) -> bool:
    """Whether what follows "note to self" is a date that a thing has, not a plan or something to do."""
    said = _DATED_FACT.match(rest)
    return said is not None and not _EVENT_NOUN.search(said["subj"]) and not any(w.has_time for w in m.whens)


_STORE_VERB = r"(?:remember|note|save|store|keep\s+in\s+mind|memori[sz]e)"
_STORE_TAIL = re.compile(
    rf"(?:(?:[,;.!\-—–]|\b(?:please|pls|so|and)\b)\s*(?:(?:please|pls|can\s+you|could\s+you)\s+)?{_STORE_VERB}"
    rf"(?:\s+(?:that|this|it))?|\b(?:(?:please|pls|can\s+you|could\s+you|and)\s+)?{_STORE_VERB}\s+(?:that|this|it))"
    r"\b(?:\s+(?:please|pls|for\s+me|for\s+later|thanks))*[\s.!]*$")
_LATER = re.compile(r"(?:for\s+(?:later|the\s+future|future\s+ref(?:erence|\.)?)|for\s+me)\b\s*[:,\-—–]?\s*")


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
        if lead["self"] and (_chore(_lead_word(rest)) or m.whens and not _dated_fact(m, rest)):
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



_Q_STOP = set((
    "what what's whats when when's where where's who who's whom whose which why how how's is are am was were do does "
    "did have has had can could would should will shall the a an of for to in on at by my our your me i we you it "
    "its it's again exactly remind tell know please anyone there any some about that this these those with from "
    "be been get got remember said told say mentioned ever again? actually again, think recall tell me do you "
    "know if was again is's s anything something everything else").split())

_OWNER = {"my", "our", "your", "his", "her", "their", "the", "a", "mum's", "mom's", "dad's"}


def _query(m: _Msg) -> str:
    words = re.findall(r"[\w'-]+", m.text[m.b:].lower())
    # "will" after "my", "the", "his" … is the document, not the verb
    keep = [w for i, w in enumerate(words) if (w not in _Q_STOP or w == "will" and i and words[i - 1] in _OWNER)
            and not (len(w) < 2 and not w.isdigit())]
    return " ".join(keep).strip()  # related words are the search's to add (memory.RELATED), for every brain


# ---------------------------------------------------------------- forgetting

_MEMORY_NOUN = r"(?:notes?|memor(?:y|ies)|facts?|info(?:rmation)?|remarks?|details?)"
_FORGET_LEAD = re.compile(
    r"^(?:(?:please|pls|just|now|also|and)\s+)*(?P<verb>forget|unremember|stop\s+remembering|"
    r"(?:don'?t|do\s+not|no\s+longer)\s+(?:need\s+to\s+)?remember|"
    # a word that could delete a task forgets only when it names a note or what the user said
    r"(?:delete|remove|erase|wipe|clear|drop|discard|scrap|scrub|purge|get\s+rid\s+of|throw\s+away|never\s*mind)"
    r"(?=\s+[^.!?]*\bfrom\s+(?:your|the)\s+memory\b"  # "wipe the gate code from your memory"
    rf"|\s+(?:(?:the|that|this|those|these|my|your|all|any|every|of)\s+)*(?:[\w'-]+\s+){{0,3}}?(?:{_MEMORY_NOUN}\b"
    r"(?!\s+(?:tasks?|todos?|to-dos?|reminders?|items?)\b)|what\s+(?:i|we)\b|everything\b|anything\b)))\s+")
# the words between the verb and what to forget ("about", "the note about", "what I told you about")
_FORGET_INTRO = re.compile(
    r"(?:(?:what|whatever|everything|anything|all)\s+(?:(?:i|we)\s+(?:'ve\s+|have\s+|had\s+|just\s+)?(?:told|said"
    r"|gave|mentioned|shared|wrote)(?:\s+(?:to|with))?(?:\s+you)?|you\s+(?:know|remember|have|'ve\s+(?:got|saved|"
    r"stored)))\s*|(?:i|we)\s+(?:told|said\s+to)\s+you\s+"
    rf"|(?:about|that|of|on|all|any|every|everything|anything|the|my|your|this|these|those)\s+|{_MEMORY_NOUN}\s+"
    r"|(?:regarding|re|concerning|saying|with)\s+)")
_FORGET_TAIL = re.compile(r"(?:[\s,;.!]+(?:please|pls|thanks|thank\s+you|ok(?:ay)?|any\s*more|for\s+good|completely"
                          r"|entirely|altogether|now|from\s+(?:your|the)\s+memory|i\s+(?:told|gave)\s+you))+[\s.!]*$")
_TASKISH = re.compile(r"\b(?:tasks?|todos?|to-dos?|reminders?|items?|errands?|chores?|one|bugs?|tickets?|issues?"
                      r"|invoices?|reports?|deadlines?|drafts?|slides|homework|assignments?|bills?)\b")
_FACTISH = re.compile(rf"\b(?:{_MEMORY_NOUN}|codes?|passwords?|pins?|passcodes?|wi-?fi|numbers?|address(?:es)?"
                      r"|birthdays?|anniversar(?:y|ies)|names?|allerg(?:y|ies|ic)|preferences?|prefers?|likes?"
                      r"|combination|plates?|locker|phone|email\s+address|favou?rite|diet|size|lives?)\b")
_PRONOUN = {"it", "that", "this", "them", "those", "these", "that one", "this one", "it all", "everything", "all"}
_QUERY_DROP = {"my", "our", "your", "the", "a", "an", "is", "are", "was", "were", "that", "this", "its", "it's"}


def _forget(m: _Msg) -> Intent | None:
    """ "forget that my locker code is 4471": delete what was remembered, never a task."""
    body = m.body
    lead = _FORGET_LEAD.match(body)
    if not lead:
        return None
    pos = lead.end()
    intro = ""
    while (step := _FORGET_INTRO.match(body, pos)) is not None and step.end() > pos:
        intro += step[0]
        pos = step.end()
    end = len(body)
    tail = _FORGET_TAIL.search(body, pos)
    if tail:
        end = tail.start()
    what = body[pos:end].strip(" ,;:.!?")
    if not what or what in _PRONOUN or re.match(r"(?:it|that|this)\b\W", what):
        return None  # "forget it": talk, or a task said before
    verb = lead["verb"]
    said = re.search(rf"\b(?:{_MEMORY_NOUN}|what|everything|anything|told|said)\b", intro) is not None
    clause = intro.rstrip().endswith("that") and re.search(r"\b(?:is|are|was|were|has|have|had|'s)\b", what)
    if verb == "forget" and not said and not clause:
        if _TASKISH.search(what) or _EVENT_REF.search(what):
            return None  # "forget about the dentist task": the task goes
        first = _lead_word(what)
        if _chore(first) or _chore(re.sub(r"ing$", "", first)) or _chore(re.sub(r"ing$", "e", first)):
            return None  # "forget about calling the bank" is a task not to do
        if "about" not in intro.split() and not _FACTISH.search(what) and not re.search(r"[\w]'s\b", what):
            return None  # "forget the old bike" names a task more likely than a note
    named = m.text[m.b + pos: m.b + end].strip(" ,;:.!?")
    named = re.sub(rf"\s+{_MEMORY_NOUN}$", "", named, flags=re.I)  # "the dentist note"
    words = [w for w in named.split() if w.lower() not in _QUERY_DROP]
    query = " ".join(words).strip(" ,;:.!?")
    return Intent("forget", {"query": query}) if query else None



# ---------------------------------------------------------------- news: a fact said, nothing asked

_DECIDED = re.compile(
    r"^(?P<subj>(?:i|we|they|everyone|everybody|(?:the|our|my)\s+[\w-]+(?:\s+[\w-]+)?|[a-z][\w-]*(?:\s+(?:and|&)\s+"
    r"(?:i|[a-z][\w-]*))?))\s+(?:(?:'ve|have|had|'d|just|finally|already|all|eventually|officially|now)\s+)*"
    r"(?P<verb>decided|agreed|settled|concluded|chose|opted|voted|resolved|went\s+with|learned|learnt|heard"
    r"|found\s+out|noticed|realised|realized|announced|signed\s+off|moved|changed|rescheduled|postponed|pushed"
    r"|shifted|delayed|brought|switched|renamed|cancelled|canceled|dropped)\b")
_REQUEST_CLAUSE = re.compile(r"^(?:please|pls|can|could|would|will|remind|add|put|mark|update|change|make|move|note"
                             r"|remember|save|schedule|set|create|book|tick|cancel|delete|remove|let\s+me\s+know"
                             r"|block|push|tell|ask|send)\b")
_NEWS_VERBS = ("decided", "agreed", "settled", "concluded", "chose", "opted", "voted", "resolved", "went",
               "learned", "learnt", "heard", "found", "noticed", "realised", "realized", "announced", "signed")


def _news(m: _Msg) -> Intent | None:
    """ "we decided to move the Orion launch to April 14": a past decision or fact told, with no request in it."""
    body = m.body.strip()
    said = _DECIDED.match(body)
    if not said or "?" in body or re.search(r"[✅✔☑]|\b(?:task|todo|to-do|remind|reminder|calendar)\b", body):
        return None
    subject, verb = said["subj"], said["verb"].split()[0]
    if verb not in _NEWS_VERBS and subject == "i":
        return None  # "I cancelled the gym membership" reports a task done
    if re.search(r"\b(?:(?:need|needs|have|has|got)\s+to|must|should|gotta)\b", body):
        return None  # "I realised I need to renew my passport" is a task
    if subject not in ("i", "we", "they", "everyone", "everybody") and not re.match(
            r"(?:the|our|my)\s", subject) and not m.text[m.b].isupper():
        return None  # a name starts with a capital
    later = re.split(r"\s*(?:[,;.!]|\s[-—–]\s|\band\s+(?:then\s+)?|\bso\s+)\s*", body[said.end():])[1:]
    if any(_REQUEST_CLAUSE.match(c) for c in later if c):
        return None  # "…, can you update the task"
    return Intent(None, reply_kind="ack")


# ---------------------------------------------------------------- a standing fact, said with no verb of remembering

# "Sam is vegetarian", "the tenancy agreement lives in the blue file", "Dev likes updates on Mondays",
# "I take iron every morning", "I lent my drill to Pete": how things stand (a state, a habit, a preference,
# a possession, a relation, a place) told with nothing asked. The rules read it as a note; the classifier
# weighs that reading with the sentence's meaning, so a doubtful one is asked about, not written.
_STATE_VERB = (
    r"(?:is|are|'s|'re|isn't|aren't|has|have|doesn't|does\s+not|don't|do\s+not|can't|cannot|won't|will\s+not|never"
    r"|always|usually|normally|only|lives?|works?|likes?|loves?|hates?|prefers?|dislikes?|keeps?|owns?|supports?"
    r"|takes?|drinks?|eats?|handles?|runs?|comes?|goes|renews?|costs?|charges?|plays?|teaches?|speaks?|belongs?"
    r"|sits?|expires?|ends?|lasts?|opens?|closes?|shuts?|signs?|waters?|answers?|leads?|manages?|owes?|wants?|gets?"
    r"|does|starts?|begins?|finish(?:es)?|retires?|turns?|weighs?"
    r"|looks\s+after|deals\s+with|lent|borrowed|gets?\s+paid|banks?|'d\s+(?:rather|prefer)|would\s+(?:rather|prefer))\b")
# who or what a fact is about ("the boiler", "my sister's dog", "Sam", "Jo and Tim", "mum's cat"), then its verb
_SUBJECT = re.compile(
    r"(?P<subj>(?:(?i:the|my|our|his|her|their|[\w-]+'s)\s+(?:[\w'&.-]+\s+){0,5}[\w'&.-]+"
    r"|(?P<name>(?:(?i:mum|mom|dad|gran|granny|grandad|grandpa|grandma|nan|nana|auntie|aunt|uncle)|(?!I\b)[A-Z][\w'.-]*)"
    r"(?:\s+(?:[A-Z][\w'.-]*|and\s+[A-Z][\w'.-]*|from\s+[\w-]+|at\s+[A-Z][\w-]*)){0,3})))(?:\s+|(?='))"
    r"(?:(?:still|also|now|always|usually|only|never|normally)\s+)*"
    rf"(?P<verb>{_STATE_VERB})\s*")
_NOT_A_SUBJECT = re.compile(r"\b(?:weather|day|week|morning|evening|night|weekend|run|game|match)$")
# what "I"/"we" say of themselves that is a habit or a standing fact, not a plan
_SELF_STATE = re.compile(
    r"(?:i|we)(?:\s+|(?='))(?:(?:usually|always|normally|never|only|still|also)\s+)*(?:take|drink|eat|keep(?!\s+\w+ing\b)"
    r"|prefer|lent|borrowed|owe|bank|get\s+paid|speak|'d\s+(?:rather|prefer)|would\s+(?:rather|prefer)"
    r"|(?:'m|am|'re|are)\s+(?:allergic|intolerant|a\s+size|(?:a\s+)?(?:vegetarian|vegan|pescatarian|teetotal|coeliac"
    r"|celiac|diabetic))|(?:'m|am)\s+a\s+\w+\s+in\b|(?:want|'d\s+like|would\s+like)\s+to\b.*\b(?:more|this\s+year"
    r"|one\s+day|some\s+day|someday|by\s+(?:the\s+)?(?:summer|christmas|spring|autumn|winter|the\s+end\s+of\s+the"
    r"\s+year))\b)\b")
# a habit or a standing rule of one's own, when it is said to recur ("I do yoga on Sundays", "I never eat before 7")
_SELF_HABIT = re.compile(r"(?:i|we)(?:'m|'re|\s+am|\s+are)?\s+"
                         r"(?:(?:don't|do\s+not|never|usually|always|normally|often|generally)\s+)?"
                         r"(?!(?:hate|love|like|enjoy|miss|dread|want|need|wish|hope)\b)[a-z]+\b")
_HABITUAL = re.compile(r"\b(?:never|usually|always|normally|often|generally"
                       r"|most\s+(?:days|mornings|evenings|nights|weeks)|every|each)\b")
# a state that reports something done, moved, called off or going on now: the tasks', the calendar's or talk
_DONE_STATE = re.compile(
    r"(?:(?:all|now|finally|already|just|been|all\s+been|so|really|being)\s+)*(?:done|finished|sorted|complete[d]?"
    r"|sent|written|paid|booked|fixed|chased|submitted|delivered|cancell?ed|canceled|off|over|moved|postponed"
    r"|rescheduled|pushed|delayed|ready|gone|back|arrived|here|late|clean|tidy|empty|broken|out|(?!(?:called|named"
    r"|based|located|married|allowed|engaged|related|registered|insured|vaccinated|interested|parked|kept|stored)\b)"
    r"\w+ed|\w+ing)\b")
# what makes a due date a standing arrangement rather than one deadline ("£950, due on the 1st, by standing order")
_STANDING = re.compile(r"[£$€]\s*\d|\d\s*(?:euros?|dollars?|pounds?)\b|\b(?:direct\s+debit|standing\s+order"
                       r"|bank\s+transfer|a\s+month|per\s+month|monthly|a\s+year|per\s+year|yearly|annually|every)\b")
_ASKS = re.compile(r"\b(?:need|needs|have\s+to|has\s+to|got\s+to|gotta|must|should|remind|reminder|task|todo|to-do"
                   r"|calendar|diary|schedule|please|pls|can\s+you|could\s+you|would\s+you|will\s+you|add|put|book"
                   r"|let\s+me\s+know|tell\s+me|today|tonight|this\s+morning|last\s+night|yesterday|so\s+nice"
                   r"|annoying|mad|crazy|funny)\b")


# "Octopus account number", "Nan's postcode?", "gran's visiting hours": a question asked by naming what is wanted
_FACT_NOUN = (r"(?:numbers?|no\.?|codes?|pin|password|passcode|combination|combo|address|postcode|zip(?:\s+code)?|email"
              r"|phone|mobile|hours|times|dates?|day|name|surname|reference|ref|policy|account|id|size|details|login"
              r"|username|reg|registration|plate|expiry|amount|price|cost|limit|contact|birthday|bday|anniversary"
              r"|allerg(?:y|ies)|diet|blood\s+type|shoe\s+size|wifi|wi-fi)")
_NOUN_Q = re.compile(rf"(?:(?:what\s+about|and)\s+)?(?:(?:my|our|the|his|her|their|[\w-]+'s)\s+)?"
                     rf"(?:[\w&'.-]+\s+){{0,4}}{_FACT_NOUN}(?:\s+(?:again|please|pls))?\s*\??")


_NOT_A_QUESTION = {"add", "new", "save", "store", "note", "remember", "set", "change", "update", "reset"}


def _noun_question(m: _Msg) -> Intent | None:
    """A fact asked for by its name alone ("pension policy number"): a search, never a note or a task."""
    body = m.body.strip()
    lead = _lead_word(body)
    if not _NOUN_Q.fullmatch(body) or re.search(r"\d", body) or lead in _NOT_A_QUESTION or (
            _chore(lead) and re.match(r"[a-z'-]+\s+(?:the|my|our|your|his|her|their|a|an|this|that)\b", body)):
        return None  # "update the wifi password" is a task; "water company customer ref" asks
    query = _query(m)
    return Intent("search_memory", {"query": query}) if query else None


_EDIT_TAIL = re.compile(r"\b(?:update|change|amend|fix|adjust|correct|move)\s+(?:it|that|this|the\s+calendar"
                        r"|my\s+(?:calendar|diary))(?:\s+(?:please|pls|accordingly))?[\s.!]*$")


# a day that comes back every year, said of someone with no verb: "sam's birthday 3 march", "our anniversary 9/7"
_YEARLY = re.compile(r"(?:(?:my|our|his|her|their)\s+(?:[\w-]+\s+)?|[\w-]+(?:'s|s')\s+)(?:wedding\s+)?"
                     r"(?:birthday|anniversary|name\s+day)\s*[:,\-—–]?\s*(?:is\s+)?(?:on\s+)?(?:the\s+)?")


def _fact(m: _Msg) -> Intent | None:
    """A standing fact told with no verb of remembering, as a note; None for anything that asks or plans."""
    body = m.body.strip()
    yearly = _YEARLY.match(body)
    if yearly and len(m.whens) == 1 and m.whens[0].has_day and not m.whens[0].has_time and m.whens[0].rrule is None \
            and m.b + yearly.end() == m.whens[0].start and m.whens[0].end >= m.b + len(body):
        return Intent("remember", {"text": _cap(body.rstrip(".!"))})  # a date of the year, not a task on it
    if _NOUN_Q.fullmatch(body) and not re.search(r"\d", body):
        return None  # "Lorenzo's address": asks
    if "?" in body or _QWORD.match(body) or _ASKS.search(body) or _chore(_lead_word(body)):
        return None
    if _EDIT_TAIL.search(body):
        return None  # "the vet is at 4 now, update it": a change to make, not a fact to keep
    if _SELF_STATE.match(body) or (_SELF_HABIT.match(body) and (_HABITUAL.search(body) or any(
            w.rrule for w in m.whens)) and not any(w.day is not None and w.rrule is None for w in m.whens)):
        verb_end = m.b  # "I do yoga on Sunday evenings", "I don't take meetings after 4 on Fridays": a habit, a rule
    else:
        said = _SUBJECT.match(m.text, m.b)
        if said is None or _NOT_A_SUBJECT.search(said["subj"].lower()):
            return None
        if re.match(r"(?:is|are|'s|'re|has|have)$", said["verb"].lower()) and _DONE_STATE.match(m.low, said.end()):
            return None  # "the slides are all done", "the dentist is cancelled", "my sister is visiting"
        head = said["subj"].lower().split()[-1]
        if _EVENT_NOUN.fullmatch(head) and any(w.has_day or w.has_time for w in m.whens):
            return None  # "the team dinner is on friday at 7" is an event
        verb_end = said.end()
    said_after = [w for w in m.whens if w.start >= verb_end and w.rrule is None]
    if any(w.moment is not None for w in said_after):
        return None  # "in 2 hours"
    days = [w for w in said_after if w.day is not None and w.day >= m.now.date()]
    if any("window" not in w.kinds and w.day is not None and w.day >= m.now.date() for w in m.whens) and (
            re.search(r"\ball[- ]day\b", body, re.I)
            or any(_EVENT_NOUN.fullmatch(word) for word in re.findall(r"[a-z]+", body.lower())[:6])):
        return None  # "Mia's birthday party on March 10, all day": a day in the calendar, not a fact
    if days and (any(w.has_time for w in said_after) or any(w.prep.startswith(("by", "due", "before")) for w in days)
                 and not _STANDING.search(body)):
        return None  # "the plumber comes on tuesday at 10", "the essay is due by friday": a plan, not a fact
    text = m.text[m.b:].strip().rstrip(".!")
    return Intent("remember", {"text": _cap(text)}) if len(re.sub(r"\W", "", text)) >= 6 else None
