package erlang

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

var (
	ex100  = Interval{Contacts: 100, AHT: 180 * time.Second, Length: 30 * time.Minute}
	sl8020 = Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second}
)

// The worked example published by callcentrehelper.com and others:
// 100 calls in 30 minutes, AHT 3 minutes, 80 % answered in 20 s.
func TestStaffWorkedExample(t *testing.T) {
	tg := sl8020
	tg.Shrinkage = 0.3
	r, err := Staff(ex100, tg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Agents != 14 || r.Scheduled != 20 {
		t.Errorf("Staff = %d agents, %d scheduled; want 14, 20", r.Agents, r.Scheduled)
	}
	if !near(r.Traffic, 10, 1e-9) || !near(r.ServiceLevel, 0.888, 0.0005) || !near(r.Occupancy, 0.714, 0.0005) {
		t.Errorf("traffic %.3f SL %.4f occupancy %.4f; want 10, 0.888, 0.714", r.Traffic, r.ServiceLevel, r.Occupancy)
	}
	// P(wait) = C(14, 10) = 0.1741; ASA = C * AHT / (N - A) = 7.84 s.
	if !near(r.PWait, 0.1741, 0.0005) || !near(r.ASA, 0.1741*180/4, 0.02) {
		t.Errorf("p_wait %.4f ASA %.2f; want 0.1741, 7.84", r.PWait, r.ASA)
	}
	// 13 agents miss the target.
	r13, _ := Evaluate(13, ex100, tg)
	if r13.ServiceLevel >= 0.8 {
		t.Errorf("13 agents: SL %.4f, want < 0.8", r13.ServiceLevel)
	}
}

// Textbook Erlang C values (Gans, Koole & Mandelbaum 2003 tables; Cooper).
func TestErlangCTable(t *testing.T) {
	tests := []struct {
		n    int
		a    float64
		want float64
	}{
		{1, 0.5, 0.5},    // M/M/1: ρ
		{2, 1, 1.0 / 3},  // 2a²/(2+a)... = 1/3 for a=1
		{10, 8, 0.4092},  //
		{14, 10, 0.1741}, //
		{3, 2, 0.4444},
	}
	for _, tt := range tests {
		if got := ErlangC(tt.n, tt.a); !near(got, tt.want, 5e-4) {
			t.Errorf("ErlangC(%d, %v) = %.4f, want %.4f", tt.n, tt.a, got, tt.want)
		}
	}
}

func TestStaffEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		in      Interval
		tg      Target
		agents  int
		wantErr error
	}{
		{"zero volume", Interval{0, 0, 30 * time.Minute}, sl8020, 0, nil},
		{"zero volume min staff", Interval{0, 0, 30 * time.Minute}, Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, MinAgents: 2}, 2, nil},
		{"tiny volume", Interval{1, 60 * time.Second, time.Hour}, sl8020, 1, nil},
		{"asa target", ex100, Target{ASA: 30 * time.Second}, 13, nil}, // 12 agents: ASA 40 s
		{"occupancy cap binds", ex100, Target{ServiceLevel: 0.5, AnswerWithin: 20 * time.Second, MaxOccupancy: 0.6}, 17, nil},
		{"answer within zero", ex100, Target{ServiceLevel: 0.85}, 15, nil}, // SL = 1 - C: 0.826 at 14
		{"negative contacts", Interval{-1, time.Minute, time.Hour}, sl8020, 0, ErrBadInput},
		{"contacts without aht", Interval{5, 0, time.Hour}, sl8020, 0, ErrBadInput},
		{"no length", Interval{5, time.Minute, 0}, sl8020, 0, ErrBadInput},
		{"no target", ex100, Target{}, 0, ErrBadInput},
		{"shrinkage 1", ex100, Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Shrinkage: 1}, 0, ErrBadInput},
		{"sl 1 unreachable as a target", ex100, Target{ServiceLevel: 1, AnswerWithin: 20 * time.Second}, 0, ErrBadInput},
		{"NaN contacts", Interval{math.NaN(), time.Minute, time.Hour}, sl8020, 0, ErrBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Staff(tt.in, tt.tg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Staff: err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Agents != tt.agents {
				t.Errorf("Staff = %d agents, want %d (%+v)", r.Agents, tt.agents, r)
			}
			if !meets(r, tt.tg) && tt.in.Contacts > 0 {
				t.Errorf("result %+v does not meet %+v", r, tt.tg)
			}
			// One agent fewer must miss the target.
			if r.Agents > tt.tg.MinAgents && tt.in.Contacts > 0 {
				r1, _ := Evaluate(r.Agents-1, tt.in, tt.tg)
				if meets(r1, tt.tg) {
					t.Errorf("%d agents already meet the target: %+v", r.Agents-1, r1)
				}
			}
		})
	}
}

func TestOverload(t *testing.T) {
	// Traffic above agents: Erlang C has no steady state.
	r, err := Evaluate(8, ex100, sl8020)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stable || r.ASA != -1 || r.PWait != 1 || r.ServiceLevel != 0 || r.Occupancy != 1 {
		t.Errorf("Evaluate(8 agents, 10 Erlangs) = %+v, want unstable, ASA -1, p_wait 1, SL 0, occupancy 1", r)
	}
	// Erlang A stays stable: callers abandon.
	tg := sl8020
	tg.Patience = 60 * time.Second
	ra, err := Evaluate(8, ex100, tg)
	if err != nil {
		t.Fatal(err)
	}
	if !ra.Stable || ra.Abandon <= 0.05 || ra.Occupancy > 1 || ra.ServiceLevel <= 0 || ra.ServiceLevel >= 0.8 {
		t.Errorf("Erlang A overload = %+v", ra)
	}
}

func TestLargeN(t *testing.T) {
	// 20,000 Erlangs: no overflow, square-root staffing territory.
	in := Interval{Contacts: 200000, AHT: 180 * time.Second, Length: 30 * time.Minute}
	r, err := Staff(in, sl8020)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(r.ServiceLevel) || r.Agents < 20000 || r.Agents > 20000+4*int(math.Sqrt(20000)) {
		t.Errorf("Staff(20000 Erlangs) = %+v", r)
	}
	if c := ErlangC(100000, 99000); math.IsNaN(c) || c <= 0 || c >= 1 {
		t.Errorf("ErlangC(1e5, 9.9e4) = %v", c)
	}
	if b := ErlangB(50000, 1e5); math.IsNaN(b) || b <= 0 || b >= 1 {
		t.Errorf("ErlangB(5e4, 1e5) = %v", b)
	}
}

// Erlang A with a very patient caller approaches Erlang C.
func TestErlangAApproachesC(t *testing.T) {
	tg := sl8020
	c, _ := Evaluate(14, ex100, tg)
	tg.Patience = 1e6 * time.Second
	a, _ := Evaluate(14, ex100, tg)
	if !near(a.ServiceLevel, c.ServiceLevel, 0.002) || !near(a.PWait, c.PWait, 0.002) || !near(a.ASA, c.ASA, 0.05) {
		t.Errorf("Erlang A (patience 1e6 s) = %+v, Erlang C = %+v", a, c)
	}
}

// simulate runs a seeded FCFS M/M/n(+M) queue and returns the share answered
// within T, the share waiting, the mean wait of all and the share abandoning.
func simulate(seed uint64, n int, in Interval, T, patience float64, arrivals int) (sl, pw, asa, ab float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	lam := in.Contacts / in.Length.Seconds()
	aht := in.AHT.Seconds()
	free := make([]float64, n) // times servers become free
	var t float64
	var okT, waited, aband int
	var wsum float64
	warm := arrivals / 10
	for i := 0; i < arrivals+warm; i++ {
		t += rng.ExpFloat64() / lam
		sort.Float64s(free)
		start := math.Max(t, free[0])
		w := start - t
		pat := math.Inf(1)
		if patience > 0 {
			pat = rng.ExpFloat64() * patience
		}
		count := i >= warm
		if w > pat {
			if count {
				aband++
				wsum += pat
				waited++
			}
			continue
		}
		free[0] = start + rng.ExpFloat64()*aht
		if !count {
			continue
		}
		wsum += w
		if w > 0 {
			waited++
		}
		if w <= T {
			okT++
		}
	}
	N := float64(arrivals)
	return float64(okT) / N, float64(waited) / N, wsum / N, float64(aband) / N
}

func TestSimulationCrossCheck(t *testing.T) {
	tests := []struct {
		name     string
		n        int
		in       Interval
		patience time.Duration
	}{
		{"erlang c 14 agents 10 E", 14, ex100, 0},
		{"erlang c 5 agents 4 E", 5, Interval{48, 5 * time.Minute, time.Hour}, 0},
		{"erlang a 10 agents 10 E patience 120 s", 10, ex100, 120 * time.Second},
		{"erlang a 12 agents 10 E patience 60 s", 12, ex100, 60 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := sl8020
			tg.Patience = tt.patience
			r, err := Evaluate(tt.n, tt.in, tg)
			if err != nil {
				t.Fatal(err)
			}
			sl, pw, asa, ab := simulate(uint64(i+1), tt.n, tt.in, 20, tt.patience.Seconds(), 200000)
			if !near(sl, r.ServiceLevel, 0.015) || !near(pw, r.PWait, 0.015) || !near(ab, r.Abandon, 0.01) || !near(asa, r.ASA, 0.1*r.ASA+0.5) {
				t.Errorf("model SL %.4f p_wait %.4f ASA %.2f abandon %.4f; simulation %.4f %.4f %.2f %.4f",
					r.ServiceLevel, r.PWait, r.ASA, r.Abandon, sl, pw, asa, ab)
			}
		})
	}
}

func TestEstimatePatience(t *testing.T) {
	// Simulated waits of an overloaded queue with 90 s mean patience.
	rng := rand.New(rand.NewPCG(7, 7))
	var ws []Wait
	for i := 0; i < 20000; i++ {
		pat := rng.ExpFloat64() * 90
		wait := rng.ExpFloat64() * 60 // time until an agent would answer
		if pat < wait {
			ws = append(ws, Wait{Seconds: pat, Abandoned: true})
		} else {
			ws = append(ws, Wait{Seconds: wait})
		}
	}
	p, err := EstimatePatience(ws)
	if err != nil {
		t.Fatal(err)
	}
	if !near(p.Seconds(), 90, 4) {
		t.Errorf("EstimatePatience = %v, want about 90s", p)
	}
	if _, err := EstimatePatience([]Wait{{Seconds: 10}}); !errors.Is(err, ErrBadInput) {
		t.Errorf("no abandons: err %v, want ErrBadInput", err)
	}
	if _, err := EstimatePatience([]Wait{{Seconds: -1, Abandoned: true}}); !errors.Is(err, ErrBadInput) {
		t.Errorf("negative wait: err %v, want ErrBadInput", err)
	}
}

func BenchmarkStaffErlangA(b *testing.B) {
	tg := sl8020
	tg.Patience = 120 * time.Second
	for b.Loop() {
		if _, err := Staff(ex100, tg); err != nil {
			b.Fatal(err)
		}
	}
}

// Erlang A staffing by bisection agrees with a linear walk.
func TestStaffErlangAMinimal(t *testing.T) {
	for _, c := range []struct {
		contacts float64
		patience time.Duration
		occ      float64
	}{{100, 60 * time.Second, 0}, {100, 300 * time.Second, 0.9}, {3, 30 * time.Second, 0}, {900, 120 * time.Second, 0}} {
		in := Interval{Contacts: c.contacts, AHT: 180 * time.Second, Length: 30 * time.Minute}
		tg := Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Patience: c.patience, MaxOccupancy: c.occ}
		r, err := Staff(in, tg)
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		for ; ; n++ {
			if meets(evalA(n, in, tg), tg) {
				break
			}
		}
		if r.Agents != n {
			t.Errorf("%v contacts, patience %v: Staff = %d agents, linear walk %d", c.contacts, c.patience, r.Agents, n)
		}
	}
}

func BenchmarkStaffErlangALarge(b *testing.B) {
	in := Interval{Contacts: 20000, AHT: 180 * time.Second, Length: 30 * time.Minute} // 2,000 Erlangs
	tg := Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, Patience: 120 * time.Second}
	for b.Loop() {
		if _, err := Staff(in, tg); err != nil {
			b.Fatal(err)
		}
	}
}
