package redact

import (
	"fmt"
	"slices"
)

// Entity is a kind of sensitive data.
type Entity string

// The entity types. Their names are stable: they appear in policies,
// metrics labels and results.
const (
	Card          Entity = "card"           // payment card number (PAN)
	CardExpiry    Entity = "card_expiry"    // card expiry date, in context
	CardCVV       Entity = "card_cvv"       // card security code, in context
	SSN           Entity = "ssn"            // US social security number
	NINumber      Entity = "ni_number"      // UK National Insurance number
	IBAN          Entity = "iban"           // international bank account number
	BankAccount   Entity = "bank_account"   // bank account number, in context
	RoutingNumber Entity = "routing_number" // US ABA routing number or UK sort code, in context
	Phone         Entity = "phone"          // telephone number
	Email         Entity = "email"          // e-mail address
	DateOfBirth   Entity = "dob"            // date of birth, in context
	Address       Entity = "address"        // street address: number, name, street type
	Postcode      Entity = "postcode"       // UK postcode or US ZIP code
	PIN           Entity = "pin"            // PIN or one-time code, in context
	Password      Entity = "password"       // password or memorable word, in context
	// Number is only produced for partial hypotheses: a run of digits that
	// could be the start of any of the above (see Stream.Partial).
	Number Entity = "number"
)

// Entities lists every type a policy can enable, in a fixed order.
var Entities = []Entity{Card, CardExpiry, CardCVV, SSN, NINumber, IBAN, BankAccount, RoutingNumber,
	Phone, Email, DateOfBirth, Address, Postcode, PIN, Password}

// entityIndex maps a type to its bit.
func entityIndex(e Entity) int {
	if e == Number {
		return len(Entities)
	}
	return slices.Index(Entities, e)
}

// typeSet is a set of entity types, one bit per index in Entities.
type typeSet uint32

func (s typeSet) has(e Entity) bool { return s&(1<<entityIndex(e)) != 0 }

func allTypes() typeSet { return typeSet(1)<<(len(Entities)+1) - 1 }

// ParseEntity returns the entity named s.
func ParseEntity(s string) (Entity, error) {
	e := Entity(s)
	if entityIndex(e) < 0 || e == Number {
		return "", fmt.Errorf("redact: unknown entity type %q", s)
	}
	return e, nil
}

// label is the replacement text of each type.
var label = map[Entity]string{
	Card: "CARD", CardExpiry: "EXPIRY", CardCVV: "CVV", SSN: "SSN", NINumber: "NI NUMBER", IBAN: "IBAN",
	BankAccount: "ACCOUNT", RoutingNumber: "BANK CODE", Phone: "PHONE", Email: "EMAIL", DateOfBirth: "DOB",
	Address: "ADDRESS", Postcode: "POSTCODE", PIN: "PIN", Password: "PASSWORD", Number: "NUMBER",
}
