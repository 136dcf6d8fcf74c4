#!/usr/bin/env python3
"""Writes a realistic Postfix mail log for the classifier benchmark (bench/classify.sh).

Each message goes through the lines a real Postfix logs (smtpd connect, client=,
cleanup message-id, qmgr from=, one smtp delivery status per recipient, qmgr removed,
smtpd disconnect), with the delivery outcomes a busy outbound relay sees: mostly sent,
some deferred by receivers that throttle (Gmail 4.7.28, Yahoo TSS04, Microsoft
4.7.650, SES throttling), greylist, are busy, time out or refuse, a few bounces, and
local rejections and limit warnings in between. Deterministic for a given --seed.

Usage: python3 bench/gen_maillog.py --lines 1000000 [--seed 7] > mail.log
"""
import argparse
import random
import sys

DOMAINS = [
    ("gmail.com", "gmail-smtp-in.l.google.com[142.250.1.27]:25", 0.35),
    ("yahoo.com", "mta7.am0.yahoodns.net[67.195.204.72]:25", 0.12),
    ("outlook.com", "outlook-com.olc.protection.outlook.com[52.101.8.33]:25", 0.12),
    ("hotmail.com", "hotmail-com.olc.protection.outlook.com[52.101.8.34]:25", 0.06),
    ("example.net", "mail.example.net[198.51.100.7]:25", 0.1),
    ("corp.example", "exch01.corp.example[198.51.100.9]:25", 0.1),
    ("partner.example", "mx.partner.example[198.51.100.10]:25", 0.1),
    ("down.example", "mx.down.example[198.51.100.11]:25", 0.05),
]

# (weight, status, dsn, reason builder) per outcome; sent dominates.
DEFERRALS = {
    "gmail.com": [
        "host {h} said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail. To protect 421-4.7.28 our users from spam, mail has been temporarily rate limited. 421 4.7.28 Please visit https://support.google.com/mail/answer/188131 - gsmtp (in reply to end of DATA command)",
        "host {h} said: 450-4.2.1 The user you are trying to contact is receiving mail too quickly. 450 4.2.1 Please resend your message at a later time. - gsmtp (in reply to RCPT TO command)",
        "host {h} said: 421 4.3.0 Temporary System Problem.  Try again later. - gsmtp (in reply to RCPT TO command)",
    ],
    "yahoo.com": [
        "host {h} said: 421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)",
    ],
    "outlook.com": [
        "host {h} said: 451 4.7.650 The mail server [203.0.113.9] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775) (in reply to MAIL FROM command)",
    ],
    "hotmail.com": [
        "host {h} said: 451 4.7.500 Server busy. Please try again later from [203.0.113.9]. (AS761) (in reply to RCPT TO command)",
    ],
    "example.net": [
        "host {h} said: 450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html (in reply to RCPT TO command)",
    ],
    "corp.example": [
        "host {h} said: 452 4.3.1 Insufficient system resources (in reply to MAIL FROM command)",
    ],
    "partner.example": [
        "host {h} refused to talk to me: 421 4.7.0 mx.partner.example Error: too many connections from 203.0.113.9",
    ],
    "down.example": [
        "connect to {h}: Connection refused",
        "connect to {h}: Connection timed out",
    ],
}

BOUNCE = "host {h} said: 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"

CLIENTS = [f"client{i}.example[198.51.100.{i}]" for i in range(1, 60)]
ALNUM = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    out = sys.stdout
    buf = []
    n = 0
    t = 0  # seconds since 00:00 of Nov 27
    pid = 1000
    names = [d[0] for d in DOMAINS]
    weights = [d[2] for d in DOMAINS]
    relays = {d[0]: d[1] for d in DOMAINS}

    def stamp():
        h, m, s = t // 3600 % 24, t // 60 % 60, t % 60
        return f"Nov 27 {h:02d}:{m:02d}:{s:02d} mx1"

    def qid():
        return "4" + "".join(rnd.choice(ALNUM) for _ in range(10))

    while n < a.lines:
        t += rnd.choice((0, 0, 1))
        pid += 1
        client = rnd.choice(CLIENTS)
        st = stamp()
        r = rnd.random()
        if r < 0.03:
            buf.append(f"{st} postfix/smtpd[{pid}]: connect from {client}")
            buf.append(f"{st} postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from {client}: 450 4.2.0 <u{pid}@mx1.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/mx1.example.html; from=<s@{client.split('[')[0]}> to=<u{pid}@mx1.example> proto=ESMTP helo=<{client.split('[')[0]}>")
            buf.append(f"{st} postfix/smtpd[{pid}]: disconnect from {client} ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")
            n += 3
            continue
        if r < 0.035:
            buf.append(f"{st} postfix/smtpd[{pid}]: warning: Connection concurrency limit exceeded: 51 from {client} for service smtp")
            buf.append(f"{st} postfix/anvil[900]: statistics: max connection count 51 for (smtp:{client.split('[')[1][:-1]}) at Nov 27 00:00:00")
            n += 2
            continue
        q = qid()
        buf.append(f"{st} postfix/smtpd[{pid}]: connect from {client}")
        buf.append(f"{st} postfix/smtpd[{pid}]: {q}: client={client}")
        buf.append(f"{st} postfix/cleanup[{pid + 1}]: {q}: message-id=<{q}.{t}@{client.split('[')[0]}>")
        size = rnd.randint(900, 90000)
        nrcpt = rnd.choice((1, 1, 1, 2))
        buf.append(f"{st} postfix/qmgr[900]: {q}: from=<sender{pid % 97}@mx1.example>, size={size}, nrcpt={nrcpt} (queue active)")
        buf.append(f"{st} postfix/smtpd[{pid}]: disconnect from {client} ehlo=1 mail=1 rcpt={nrcpt} data=1 quit=1 commands={4 + nrcpt}")
        n += 5
        deferred = False
        for _ in range(nrcpt):
            dom = rnd.choices(names, weights)[0]
            rcpt = f"user{rnd.randint(1, 5000)}@{dom}"
            relay = relays[dom]
            host = relay.rsplit(":", 1)[0]
            o = rnd.random()
            spid = pid + 2
            if o < 0.80 and dom != "down.example":
                d = rnd.uniform(0.2, 3)
                buf.append(f"{st} postfix/smtp[{spid}]: {q}: to=<{rcpt}>, relay={relay}, delay={d:.1f}, delays=0.01/0/{d/2:.2f}/{d/2:.2f}, dsn=2.0.0, status=sent (250 2.0.0 OK {t} {q} - gsmtp)")
            elif o < 0.98:
                reason = rnd.choice(DEFERRALS[dom])
                if reason.startswith("connect to"):
                    reason = reason.format(h=relay)
                    buf.append(f"{st} postfix/smtp[{spid}]: {q}: to=<{rcpt}>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred ({reason})")
                elif "refused to talk" in reason:
                    reason = reason.format(h=host)
                    buf.append(f"{st} postfix/smtp[{spid}]: {q}: {reason}")
                    buf.append(f"{st} postfix/smtp[{spid}]: {q}: to=<{rcpt}>, relay=none, delay=0.4, delays=0/0/0.4/0, dsn=4.7.0, status=deferred ({reason})")
                    n += 1
                else:
                    reason = reason.format(h=host, rcpt=rcpt)
                    buf.append(f"{st} postfix/smtp[{spid}]: {q}: to=<{rcpt}>, relay={relay}, delay=0.9, delays=0.01/0/0.5/0.4, dsn=4.0.0, status=deferred ({reason})")
                deferred = True
            else:
                reason = BOUNCE.format(h=host, rcpt=rcpt)
                buf.append(f"{st} postfix/smtp[{spid}]: {q}: to=<{rcpt}>, relay={relay}, delay=0.3, delays=0/0/0.2/0.1, dsn=5.1.1, status=bounced ({reason})")
                buf.append(f"{st} postfix/bounce[{spid + 1}]: {q}: sender non-delivery notification: 5{q[1:]}")
                n += 1
            n += 1
        if not deferred:
            buf.append(f"{st} postfix/qmgr[900]: {q}: removed")
            n += 1
        if len(buf) > 20000:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()
