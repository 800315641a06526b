// Package redact finds sensitive data in contact-centre text and replaces
// it before anything is stored, shown or handed over: payment card numbers
// (Luhn-checked) with their expiry and security code, US social security
// numbers, UK National Insurance numbers, IBANs (checksum-validated), bank
// account and routing numbers or sort codes, phone numbers, e-mail
// addresses, dates of birth, street addresses and postcodes, PINs and
// passwords.
//
// Every detector reads chat text and speech-recognised text alike: the
// text is split into tokens, and numbers are read whether written
// ("4111 1111-1111"), spoken digit by digit ("four one one one"), in
// groups ("forty one eleven"), with repeats ("double five", "triple
// one") or with the recogniser's homophones ("for" for four, "to" for two,
// "oh" for zero, and "or", "of", "and" or "no" for a zero between two
// spoken digits). Values that are sensitive only in context (an expiry, a
// PIN, an account number) are looked for after their context phrase;
// checksummed values (cards, IBANs) are found anywhere; a number right
// after a reference phrase ("order number", "case reference") is left
// alone. After a card phrase ("my debit card is", "put it on"), a long
// stretch of number-like words is a card even when the recogniser's
// digits fail the Luhn check ("five one eight three o h for one ..."):
// it is labelled without last four, which may be wrong.
//
// A Redactor applies a Policy (types, replacement form, word times) to
// one text; a Stream does it for one party of a live engagement, where a
// number can be split across two recognised segments and partial
// hypotheses must be redacted before they are shown; an Engagement holds
// one Stream per party and carries one context across parties: a
// question for the card number makes the other parties' next segments
// card context. Results carry the
// original text for the caller to seal and the spans found (type and
// offsets, never the values).
package redact
