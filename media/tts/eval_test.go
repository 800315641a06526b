//go:build eval

package tts_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/espeak"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/tts/internal/roundtrip"
	"github.com/earshot/earshot/media/wer"
)

// evalPrompts are fifty things a contact-centre bot says, written for
// this eval: numbers, dates, times, amounts, names, card endings and
// reference numbers among ordinary words.
var evalPrompts = []string{
	"Thank you for calling. How can I help you today?",
	"Your card ending in 4211 has been blocked for your protection.",
	"Your current balance is $1,284.57.",
	"Your next payment of $89.99 is due on March 3rd.",
	"I can see a payment of £250 made on 2026-11-28.",
	"Your appointment is booked for Tuesday at 2:30 pm.",
	"Please say or enter your sixteen digit card number.",
	"The reference number for this call is 83920471.",
	"I have found your account, Mr. Patel.",
	"Thank you, Sarah. Let me check that for you.",
	"Our offices are open from 9am to 5pm, Monday to Friday.",
	"You can also call us on (555) 123-4567.",
	"Your refund of $42.10 will arrive within 5 working days.",
	"Is the card ending in 0093 the one you want to use?",
	"Your loan rate is 4.9% for the first 12 months.",
	"I'm sorry, I didn't catch that. Could you say it again?",
	"Your parcel is due to arrive on December 6th, 2026.",
	"The direct debit of €35 will be taken on the 1st of each month.",
	"Would you like me to transfer you to an agent?",
	"Please hold while I connect you to the billing team.",
	"Your password was changed on 11/02/2026 at 14:05.",
	"I can offer you a credit of $15 on your next bill.",
	"Your order number 55210 was shipped yesterday.",
	"To confirm, you want to pay $500 from your savings account.",
	"The last transaction on your account was $12.75 at a supermarket.",
	"Your contract renews on the 22nd of January.",
	"I have sent a verification code to the phone number ending in 88.",
	"Please tell me your date of birth.",
	"Thank you, James. Your details have been updated.",
	"There are 3 people ahead of you in the queue.",
	"Your estimated waiting time is 4 minutes.",
	"Your flight to Boston leaves at 7:45 am on Friday.",
	"We have received your claim and will reply within 48 hours.",
	"Your monthly allowance is 20 gigabytes of data.",
	"Your account was opened in 2019.",
	"I can arrange an engineer visit on Thursday, the 14th of May.",
	"Your premium will go up by $7.50 per month from April.",
	"Please have your policy number ready.",
	"Goodbye, and thank you for calling.",
	"Your credit limit has been raised to $3,000.",
	"Press 1 for billing, 2 for technical support, or 3 for anything else.",
	"I have cancelled the card ending in 7360 and ordered a new one.",
	"Your balance transfer of $2,400 was completed on June 30th.",
	"Is there anything else I can help you with today?",
	"Your delivery slot is between 10 am and 12 pm tomorrow.",
	"Mrs. Johnson, your prescription is ready for collection.",
	"The interest charged this month was $18.32.",
	"Your meter reading of 45,210 units has been recorded.",
	"You have 2 missed payments on this account.",
	"I will text the confirmation to the number ending in 5521.",
}

// evalHalf splits the prompts by an FNV-1a hash of the text: even is the
// development half (choices such as the default voice are made on it),
// odd the reported half.
func evalHalf(p string) string {
	h := fnv.New32a()
	h.Write([]byte(p))
	if h.Sum32()%2 == 0 {
		return "dev"
	}
	return "reported"
}

// refWords turns the spoken text into reference words: lower case, with
// punctuation but apostrophes removed.
func refWords(s string) []string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
			return unicode.ToLower(r)
		}
		return ' '
	}, s)
	return wer.Normalize(s)
}

type evalVoice struct{ engine, voice string }

// TestEvalRoundTrip synthesises the fifty prompts with every built-in
// voice (Flite's four, eSpeak NG's English; tts-http is left out: only a
// stand-in can run here), transcribes them back with PocketSphinx at
// 16 kHz and at 8 kHz through mu-law, and reports the round-trip word
// error rate per voice and rate on the reported half. The default
// English voice is the one with the lowest mean WER over both rates on
// the development half; the eval fails when tts.DefaultEnglishVoice is
// not it. It also reports each engine's CPU time per second of audio
// (thread CPU time of the synthesis calls, 16 kHz runs).
//
//	go test -tags eval -run TestEvalRoundTrip -v ./media/tts/
func TestEvalRoundTrip(t *testing.T) {
	fe, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("flite (Debian libflite1): %v", err)
	}
	ee, err := espeak.New(espeak.DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("espeak-ng (Debian libespeak-ng1): %v", err)
	}
	cfg := tts.DefaultConfig()
	cfg.CacheEntries = 0
	front, err := tts.New(cfg, nil, nil, fe, ee)
	if err != nil {
		t.Fatal(err)
	}
	norm := tts.Normalizer{}

	voices := []evalVoice{{tts.EngineEspeak, "en-us"}}
	for _, v := range flite.Voices {
		voices = append(voices, evalVoice{tts.EngineFlite, v})
	}
	rates := []int{16000, 8000}
	type cell struct {
		voice evalVoice
		rate  int
		half  string
	}
	counts := map[cell]wer.Counts{}
	audioSecs := map[string]float64{}
	cpu := map[string]time.Duration{}
	nDev := 0
	for _, p := range evalPrompts {
		if evalHalf(p) == "dev" {
			nDev++
		}
	}
	t.Logf("prompts: %d development, %d reported (FNV-1a hash of the text, even = development)", nDev, len(evalPrompts)-nDev)
	verbose := os.Getenv("EARSHOT_EVAL_VERBOSE") != ""
	for _, v := range voices {
		meter := map[string]tts.CPUMeter{tts.EngineFlite: fe, tts.EngineEspeak: ee}[v.engine]
		for _, rate := range rates {
			// A fresh recogniser per voice and rate, fed the prompts in
			// order: each voice is heard from the same start.
			rec, err := roundtrip.NewSequentialRecognizer()
			if err != nil {
				t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
			}
			for _, p := range evalPrompts {
				c0 := meter.CPUTime()
				var pcm []int16
				err := front.Speak(context.Background(), tts.Prompt{Text: p, Rate: rate, Voice: tts.Voice{Engine: v.engine, Voice: v.voice}},
					func(c []int16) error { pcm = append(pcm, c...); return nil })
				if err != nil {
					t.Fatalf("%s/%s: %v", v.engine, v.voice, err)
				}
				if rate == 16000 {
					cpu[v.voice] += meter.CPUTime() - c0
					audioSecs[v.voice] += float64(len(pcm)) / float64(rate)
				}
				if rate == 8000 {
					pcm = roundtrip.MuLaw(pcm)
				}
				hyp, err := roundtrip.Transcribe(rec, pcm, rate)
				if err != nil {
					t.Fatal(err)
				}
				ref := refWords(norm.Normalize(p))
				k := cell{v, rate, evalHalf(p)}
				counts[k] = counts[k].Add(wer.Align(ref, refWords(hyp)))
				if verbose {
					t.Logf("%s %d %s\n  ref %s\n  hyp %s", v.voice, rate, evalHalf(p), strings.Join(ref, " "), hyp)
				}
			}
			rec.Close()
			t.Logf("%s/%s at %d Hz done (%s)", v.engine, v.voice, rate, time.Now().Format(time.TimeOnly))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "round-trip WER through PocketSphinx (reported half; development half in brackets)\n")
	fmt.Fprintf(&b, "%-10s %-13s %18s %18s %14s\n", "engine", "voice", "16 kHz", "8 kHz mu-law", "CPU s/audio s")
	best, bestWER := "", math.Inf(1)
	for _, v := range voices {
		r16, d16 := counts[cell{v, 16000, "reported"}], counts[cell{v, 16000, "dev"}]
		r8, d8 := counts[cell{v, 8000, "reported"}], counts[cell{v, 8000, "dev"}]
		fmt.Fprintf(&b, "%-10s %-13s %7.1f%% [%5.1f%%] %7.1f%% [%5.1f%%] %14.4f\n", v.engine, v.voice,
			r16.WER(), d16.WER(), r8.WER(), d8.WER(), cpu[v.voice].Seconds()/audioSecs[v.voice])
		if v.engine == tts.EngineFlite {
			if m := (d16.WER() + d8.WER()) / 2; m < bestWER {
				best, bestWER = v.voice, m
			}
		}
	}
	t.Log("\n" + b.String())
	t.Logf("development-half choice: %s (mean WER %.1f%% over 16 kHz and 8 kHz)", best, bestWER)
	if best != tts.DefaultEnglishVoice {
		t.Errorf("tts.DefaultEnglishVoice is %s, the development half picks %s", tts.DefaultEnglishVoice, best)
	}
	if r := counts[cell{evalVoice{tts.EngineFlite, best}, 16000, "reported"}].WER(); r > 50 {
		t.Errorf("the default voice's reported WER at 16 kHz is %.1f%%: the round trip is broken", r)
	}
}
