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
// "oh" for zero). Values that are sensitive only in context (an expiry, a
// PIN, an account number) are looked for after their context phrase;
// checksummed values (cards, IBANs) are found anywhere; a number right
// after a reference phrase ("order number", "case reference") is left
// alone.
//
// A Redactor applies a Policy (types, replacement form, word times) to
// one text; a Stream does it for one party of a live engagement, where a
// number can be split across two recognised segments and partial
// hypotheses must be redacted before they are shown. Results carry the
// original text for the caller to seal and the spans found (type and
// offsets, never the values).
package redact
