#!/usr/bin/env python3
"""Composes the auto-QM labelled set: engagements.json.

Every fragment below was written by hand together with the answers a human
reviewer gives to the questions it bears on (decided by reading the
fragment, never by running an engine). A conversation is a random choice
of fragments; its answers are the fragments' answers. Run:
    python3 gen.py > engagements.json
The seed is fixed so the file is reproducible.
"""
import json, random

random.seed(15)

# Greeting (question greet) and introduction (identify), said together.
openings = [
    ("Thank you for calling Northbank, my name is Priya, how can I help?", {"greet": "yes", "identify": "yes"}),
    ("Good morning, you're through to Northbank cards, this is Tom speaking.", {"greet": "yes", "identify": "yes"}),
    ("Welcome to Northbank, Sam here, what can I do for you today?", {"greet": "yes", "identify": "yes"}),
    ("Hiya, you're through to Northbank, how can I help?", {"greet": "yes", "identify": "no"}),
    ("Hello and thanks for ringing Northbank, I'm Leo, how may I help?", {"greet": "yes", "identify": "yes"}),
    ("Northbank. Account number?", {"greet": "no", "identify": "no"}),
    ("Yes, go ahead.", {"greet": "no", "identify": "no"}),
    ("Thank you for calling, how can I help?", {"greet": "yes", "identify": "no"}),
]
disclosures = [
    ("Before we start, this call is recorded for training and quality.", "yes"),
    ("Just so you know, calls may be recorded.", "yes"),
    ("Please be aware our calls are recorded.", "yes"),
    ("We keep a recording of this conversation for quality purposes.", "yes"),  # a human hears a disclosure; the phrase list may not
    (None, "no"),
]
problems = [
    ("My new card has not arrived and it has been two weeks.", False),
    ("I was charged twice for the same purchase and I want a refund.", True),
    ("I can't log in to the app, it keeps saying my password is wrong.", False),
    ("There is a payment I don't recognise on my statement, can I get a refund for it?", True),
    ("I need to change the address on my account.", False),
    ("My direct debit failed and now I have a late fee, I'd like that refunded.", True),
    ("I lost my card yesterday, I think it was stolen.", False),
]
verifications = [
    ("Can I take your date of birth please?", "yes"),
    ("Could you confirm the first line of your postcode?", "yes"),
    ("For security, what's the answer to your security question?", "yes"),
    ("Can you confirm a couple of details so I know it's you, your full name and where you live?", "yes"),
    (None, "no"),
]
customer_verify = ["Sure, it's the fourth of May nineteen eighty.", "Yes, it's NW1.", "It's my mother's maiden name, Carter.", "John Smith, I live on Elm Street."]
empathy = [
    ("Oh no, I'm really sorry about that, that sounds stressful.", "yes"),
    ("I completely understand why you're upset, let's sort it out.", "yes"),
    ("That's not the experience we want you to have, I apologise.", "yes"),
    ("Right.", "no"),
    ("OK, one second.", "no"),
    ("That happens sometimes.", "no"),
]
holds = [
    ("Is it OK if I put you on hold for a minute while I check?", "yes", True),
    ("Can I place you on a brief hold?", "yes", True),
    ("Hold on.", "no", True),
    ("I'll just pop you on hold now.", "no", True),
    (None, "na", False),
]
resolutions = [
    ("I've ordered a replacement card and it will arrive within five working days.", "yes"),
    ("I've reset your password, you should be able to log in now.", "yes"),
    ("I've raised a dispute for that payment and you'll hear from us within ten days.", "yes"),
    ("I've updated the address on your account.", "yes"),
    ("I'm not able to do anything about that, sorry.", "no"),
    ("You'll need to go into a branch for that.", "no"),
    ("I'll pass it on.", "no"),
]
refund_policy = [
    ("Under our refund policy, refunds take up to five working days to appear.", "yes"),
    ("Refunds normally show on your account within three to five days.", "yes"),  # policy explained without the phrase list's words
    (None, "no"),
]
closings = [
    ("Is there anything else I can help you with today?", "yes"),
    ("Anything else I can do for you?", "yes"),
    ("Can I help with anything else at all?", "yes"),
    ("Bye then.", "no"),
    ("OK, that's all done.", "no"),
]
customer_thanks = ["No, that's everything, thanks.", "That's all, thank you.", "No thanks, bye.", "Nope, cheers."]


def conv(i):
    turns = []
    t = [0]
    answers = {}

    def say(party, text, dur=None, overlap=0):
        words = len(text.split())
        d = dur or max(1200, words * 330)
        start = max(0, t[0] - overlap)
        turns.append({"party": party, "start_ms": start, "end_ms": start + d, "text": text})
        t[0] = start + d + random.choice([300, 400, 600, 800])

    o, oa = random.choice(openings)
    say("agent", o)
    answers.update(oa)
    dtext, da = random.choice(disclosures)
    if dtext:
        say("agent", dtext)
    answers["disclosure"] = da
    ptext, refund = random.choice(problems)
    interruptions = random.choice([0, 0, 0, 1, 2])
    # The agent talks over the customer's problem statement.
    say("customer", ptext, dur=5000)
    if interruptions >= 1:
        t[0] -= 400
        say("agent", "Sorry, which card is this?", overlap=1500)
        say("customer", "The debit card, the blue one.")
    vtext, va = random.choice(verifications)
    if vtext:
        say("agent", vtext)
        say("customer", random.choice(customer_verify))
    answers["verify"] = va
    etext, ea = random.choice(empathy)
    say("agent", etext)
    answers["empathy"] = ea
    htext, ha, held = random.choice(holds)
    if htext:
        say("agent", htext)
        if held:
            t[0] += 30000  # the hold: silence
            say("agent", "Thanks for holding.")
    answers["hold"] = ha
    if interruptions >= 2:
        say("customer", "Will this take long, because I have to pick up my kids", dur=4000)
        t[0] -= 400
        say("agent", "Not long.", overlap=2000)
    rtext, ra = random.choice(resolutions)
    say("agent", rtext)
    answers["resolution"] = ra
    if refund:
        rp, rpa = random.choice(refund_policy)
        if rp:
            say("agent", rp)
        answers["refund_policy"] = rpa
    else:
        answers["refund_policy"] = "na"
    ctext, ca = random.choice(closings)
    say("agent", ctext)
    answers["closing"] = ca
    say("customer", random.choice(customer_thanks))
    # Listening: a reviewer rates 5 with no interruption, 3 with one, 1 with two.
    answers["listen"] = {0: "5", 1: "3", 2: "1"}[interruptions]
    for k, tu in enumerate(turns):
        tu["seq"] = k
    return {"id": "qm-%03d" % i, "channel": "voice", "turns": turns, "human": answers}


print(json.dumps([conv(i) for i in range(72)], indent=1))
