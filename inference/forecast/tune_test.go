package forecast

import (
	"errors"
	"testing"
)

func TestTune(t *testing.T) {
	sy := defaultSynth()
	sy.days = 150
	s := sy.series()
	base := DefaultConfig()
	base.Hours = "mon-fri 08:00-18:00; sat 09:00-13:00"
	bt := BacktestConfig{Origins: 3, HorizonDays: 14}
	best, res, err := Tune(s, base, bt)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 12 || best.Hours != base.Hours {
		t.Fatalf("%d results, hours %q", len(res), best.Hours)
	}
	for i := 1; i < len(res); i++ {
		if res[i].Volume.MAPE < res[i-1].Volume.MAPE {
			t.Fatalf("results not sorted: %v", res)
		}
	}
	// The winner's own backtest reproduces its score and is no worse than
	// the defaults' (which are among the candidates).
	rb, _ := Backtest(s, best, bt)
	rd, _ := Backtest(s, base, bt)
	if rb.Overall.Volume.MAPE != res[0].Volume.MAPE || rb.Overall.Volume.MAPE > rd.Overall.Volume.MAPE {
		t.Errorf("best %.3f (listed %.3f), defaults %.3f", rb.Overall.Volume.MAPE, res[0].Volume.MAPE, rd.Overall.Volume.MAPE)
	}
	short := defaultSynth()
	short.days = 20
	if _, _, err := Tune(short.series(), base, bt); !errors.Is(err, ErrTooShort) {
		t.Errorf("20 days: err %v, want ErrTooShort", err)
	}
}
