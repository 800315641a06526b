package redact

import "testing"

// TestBankHeard: account numbers and sort codes after their phrase as a
// recogniser wrote it (16 kHz, accurate search, from the development
// sets): "my account number is" as "my continent is", "sort code" as
// "sword code", "sword could" or "short code". Numbers of another length
// after the same words stay as they are.
func TestBankHeard(t *testing.T) {
	tests := []redactCase{
		// "okay so my account number is five nine oh nine seven nine seven six"
		{"continent", "okay so my continent is five nine no nine seven nine seven six", "okay so my continent is [ACCOUNT]"},
		// "okay so my sort code is double eight nine eight seven two"
		{"sword code", "okay so my sword code is double eight nine eight seven two", "okay so my sword code is [BANK CODE]"},
		// "sort code six five five oh four three account number ..."
		{"sword could", "sword could sixty five fifty forty three account number three on nine atm double line of tanks",
			"sword could [BANK CODE] account number three on nine atm double line of tanks"},
		{"short code", "text stop to the short code eight two four one", "text stop to the short code eight two four one"},
		{"continent, no number", "which continent is it on, it is about four thousand miles away",
			"which continent is it on, it is about four thousand miles away"},
		{"sword", "the sword could be worth five hundred pounds", "the sword could be worth five hundred pounds"},
	}
	checkVoiceRedactions(t, tests)
}
