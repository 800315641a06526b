package kb

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// builtinSynonyms are groups of equivalent terms common in contact centres
// and retail banking, written for this package. Each line is one group of
// comma-separated words or phrases.
const builtinSynonyms = `
atm, cash machine, cashpoint
card, debit card, bank card
credit card, creditcard
pin, pin number, pin code
password, passcode, passphrase
login, log in, sign in, signin, logon
logout, log out, sign out
account, acct
balance, funds
transfer, wire, send money, move money
payment, pay, repayment
refund, reimburse, reimbursement, money back
charge, fee, fees, surcharge
overdraft, overdrawn
statement, bank statement
address, postal address
cancel, close, terminate
lost, missing, misplaced
stolen, theft
fraud, scam, unauthorised, unauthorized
block, freeze, lock, suspend
unblock, unfreeze, unlock, reactivate
dispute, chargeback
mortgage, home loan
loan, borrow, lending
interest, apr, interest rate
direct debit, standing order
customer, client
agent, representative, advisor, adviser
complaint, complain, grievance
delete, remove, erase
email, e-mail, mail
phone, telephone, mobile, cell
app, application, mobile app
update, change, modify, amend
error, problem, issue, fault
broken, not working, doesnt work
`

// Synonyms maps an analysed term sequence (one word or a phrase) to the
// groups it belongs to. It is built once and read concurrently.
type Synonyms struct {
	groups [][][]string     // group -> member -> analysed terms
	index  map[string][]int // first term of a member -> groups
	phrase map[string][]int // joined member terms -> groups
}

// BuiltinSynonyms returns the package's built-in contact-centre and banking
// synonym groups.
func BuiltinSynonyms() *Synonyms {
	s, err := ParseSynonyms(strings.NewReader(builtinSynonyms))
	if err != nil {
		panic("kb: built-in synonyms: " + err.Error()) // invariant of this file
	}
	return s
}

// ParseSynonyms reads a site synonym list: one group per line, members
// separated by commas (a member may be a phrase); blank lines and lines
// starting with # are ignored. An error names the line.
func ParseSynonyms(r io.Reader) (*Synonyms, error) {
	s := &Synonyms{index: map[string][]int{}, phrase: map[string][]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var group [][]string
		for _, m := range strings.Split(text, ",") {
			terms := termsOf(m)
			if len(terms) == 0 {
				continue
			}
			group = append(group, terms)
		}
		if len(group) < 2 {
			return nil, fmt.Errorf("kb: synonyms line %d: a group needs at least two members", line)
		}
		s.add(group)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kb: synonyms line %d: %w", line+1, err)
	}
	return s, nil
}

// Merge returns a list holding the groups of s and other.
func (s *Synonyms) Merge(other *Synonyms) *Synonyms {
	out := &Synonyms{index: map[string][]int{}, phrase: map[string][]int{}}
	for _, src := range []*Synonyms{s, other} {
		if src == nil {
			continue
		}
		for _, g := range src.groups {
			out.add(g)
		}
	}
	return out
}

func (s *Synonyms) add(group [][]string) {
	gi := len(s.groups)
	s.groups = append(s.groups, group)
	for _, m := range group {
		s.index[m[0]] = appendUnique(s.index[m[0]], gi)
		key := strings.Join(m, " ")
		s.phrase[key] = appendUnique(s.phrase[key], gi)
	}
}

func appendUnique(xs []int, x int) []int {
	for _, v := range xs {
		if v == x {
			return xs
		}
	}
	return append(xs, x)
}

// termsOf analyses a synonym member into index terms (stop words kept out).
func termsOf(text string) []string {
	var out []string
	for _, t := range analyze(text) {
		out = append(out, t.term)
	}
	return out
}

// expand returns, for a query's analysed terms, the terms of every synonym
// member that the query does not already contain, found by matching members
// (words or phrases) in the term sequence.
func (s *Synonyms) expand(terms []string) []string {
	if s == nil || len(s.groups) == 0 {
		return nil
	}
	have := map[string]bool{}
	for _, t := range terms {
		have[t] = true
	}
	seen := map[int]bool{}
	var out []string
	for i, t := range terms {
		for _, gi := range s.index[t] {
			if seen[gi] {
				continue
			}
			for _, m := range s.groups[gi] {
				if m[0] != t || i+len(m) > len(terms) || !equalTerms(terms[i:i+len(m)], m) {
					continue
				}
				seen[gi] = true
				for _, other := range s.groups[gi] {
					for _, ot := range other {
						if !have[ot] {
							have[ot] = true
							out = append(out, ot)
						}
					}
				}
				break
			}
		}
	}
	return out
}

func equalTerms(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
