package pocketsphinx

import (
	"errors"
	"fmt"

	"github.com/earshot/earshot/media/stt"
)

// grammars are the JSGF grammars of the listening modes. Every word is in
// the en-us dictionary.
var grammars = map[stt.Mode]string{
	// Digit strings as callers read card, account and phone numbers:
	// "four two oh seven", "double five", "triple nine".
	stt.ModeDigits: `#JSGF V1.0;
grammar digits;
public <number> = <item>+;
<item> = [double | triple] <digit>;
<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
`,
	// Spelled codes: letters, NATO words ("b as in bravo"), digits.
	stt.ModeLetters: `#JSGF V1.0;
grammar letters;
public <code> = <item>+;
<item> = <letter> [as in <nato>] | <nato> | [double] <digit>;
<letter> = a | b | c | d | e | f | g | h | i | j | k | l | m | n | o | p | q | r | s | t | u | v | w | x | y | z;
<nato> = alpha | bravo | charlie | delta | echo | foxtrot | golf | hotel | india | juliet | kilo | lima | mike |
	november | oscar | papa | quebec | romeo | sierra | tango | uniform | victor | whiskey | yankee | zulu;
<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
`,
}

func modeSearch(m stt.Mode) string { return "mode:" + string(m) }

// SetMode implements stt.ModeSetter: the grammar of m is used from the
// next utterance (ModeSpeech: the stream's language model again).
func (s *stream) SetMode(m stt.Mode) error {
	if s.closed {
		return errors.New("pocketsphinx: stream closed")
	}
	if _, err := stt.ParseMode(string(m)); err != nil {
		return err
	}
	s.mode = m
	return nil
}

// searchFor returns the search the next utterance uses (decoder thread),
// adding a mode's grammar to the decoder on first use.
func (s *stream) searchFor() (string, error) {
	if s.mode == "" || s.mode == stt.ModeSpeech {
		return s.base, nil
	}
	name := modeSearch(s.mode)
	g, ok := grammars[s.mode]
	if !ok {
		return "", fmt.Errorf("pocketsphinx: no grammar for mode %s", s.mode)
	}
	silprob := 0.0 // the decoder's -silprob
	if s.mode == stt.ModeDigits {
		silprob = s.e.cfg.DigitSilenceProb
	}
	if err := s.d.addGrammarSil(name, g, s.e.cfg.GrammarWIP, silprob); err != nil {
		return "", err
	}
	return name, nil
}

// startUtt starts an utterance in the search of the stream's mode
// (decoder thread).
func (s *stream) startUtt() error {
	name, err := s.searchFor()
	if err == nil {
		err = s.d.useSearch(name)
	}
	if err != nil {
		// Keep recognising with the language model rather than not at all.
		s.e.log.Warn("listening mode unavailable; using the language model", "mode", s.mode, "err", err)
		s.mode = stt.ModeSpeech
		if err := s.d.useSearch(s.base); err != nil {
			return err
		}
	}
	s.startFold()
	s.startFill()
	s.startDigitCMN()
	if s.reread {
		// The utterance may be read again from the cepstral mean it
		// started with (spokenreread.go).
		s.uttMean, s.uttFrames = s.d.cmn(), s.d.cmnFrames()
	}
	if err := s.d.startUtt(); err != nil {
		return err
	}
	s.uttStart = s.fed
	s.utt = s.utt[:0]
	return nil
}
